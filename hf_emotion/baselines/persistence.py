"""Saving and loading baseline models without pickle.

scikit-learn models go through skops (``skops.io.dump``); loading lists the trusted types
explicitly instead of trusting whatever the file names. torch models are saved as
safetensors weights next to a JSON config that rebuilds the module.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)

# Every type a baseline pipeline holds; a file naming anything else is refused.
TRUSTED_SKLEARN_TYPES = [
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.ensemble._forest.RandomForestRegressor",
    "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.tree._classes.DecisionTreeRegressor",
    "sklearn.tree._tree.Tree",
    "sklearn.neural_network._multilayer_perceptron.MLPClassifier",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    "sklearn.preprocessing._label.LabelBinarizer",
    "sklearn.multioutput.MultiOutputRegressor",
    "numpy.dtype",
    "numpy.float64",
    "numpy.int64",
    "numpy.random.mtrand.RandomState",
    "numpy.random._mt19937.MT19937",
    "builtins.slice",
]


def save_sklearn(model, path: str | os.PathLike) -> Path:
    """Write a fitted scikit-learn model with skops."""
    import skops.io as sio

    path = Path(path)
    sio.dump(model, path)
    return path


def load_sklearn(path: str | os.PathLike):
    """Load a model written by :func:`save_sklearn`, trusting only :data:`TRUSTED_SKLEARN_TYPES`.

    Raises:
        ValueError: the file holds a type outside the trusted list (it was not written by
            these baselines, or a newer scikit-learn added a type: extend the list after
            checking ``skops.io.get_untrusted_types(file=path)``).
    """
    import skops.io as sio

    untrusted = [t for t in sio.get_untrusted_types(file=path) if t not in TRUSTED_SKLEARN_TYPES]
    if untrusted:
        raise ValueError(f"{path}: holds types outside the trusted list: {untrusted}; refusing to load it")
    return sio.load(path, trusted=TRUSTED_SKLEARN_TYPES)


def save_torch(model, config: dict, output_dir: str | os.PathLike) -> None:
    """``model.safetensors`` (the state dict) and ``config.json`` (what rebuilds the module)."""
    from safetensors.torch import save_file

    output_dir = Path(output_dir)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, output_dir / "model.safetensors")
    with open(output_dir / "config.json", "w") as handle:
        json.dump(config, handle, indent=2)


def load_torch_state(output_dir: str | os.PathLike) -> tuple[dict, dict]:
    """The state dict and config written by :func:`save_torch`."""
    from safetensors.torch import load_file

    output_dir = Path(output_dir)
    with open(output_dir / "config.json") as handle:
        config = json.load(handle)
    return load_file(output_dir / "model.safetensors"), config
