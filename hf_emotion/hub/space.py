"""A Hugging Face Space folder that serves a trained model with the demo and installs itself.

:func:`write_space` writes ``app.py`` (a thin script over :mod:`hf_emotion.app.demo`),
``README.md`` with the Spaces YAML header, ``requirements.txt`` with PyPI packages only (torch's CPU
build from PyTorch's index), the ``hf_emotion`` package's code beside ``app.py``, and the model: when it
is a local folder, what serving reads of it and its card (never its run's predictions, training state,
checkpoints or fold models) copied into ``model/``; named by its Hub id (and listed under ``models:``)
otherwise.
Beside them, ``examples/``: a few clips of the model's test speakers with their corpus's credit
(:mod:`hf_emotion.hub.example_picking`), when the data the run used is at hand.

The package travels as code beside ``app.py`` rather than as a wheel in the folder because a
Space installs ``requirements.txt`` before the rest of the repository is in place (its build
mounts that one file), so a requirement that points at a file in the Space cannot be found;
``python app.py`` puts the app's folder first on ``sys.path``, so the copied package is the one
imported.
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from huggingface_hub import SpaceCard, SpaceCardData

from ..errors import ConfigurationError, MissingInputError
from ..model.files import MODEL_FILE_PATTERNS, ONNX_FILE, REMOTE_CODE_FILES, WEIGHTS_FILE
from ..serving.default_model import MODEL_BESIDE_APP
from .examples import EXAMPLES_DIR, copy_examples, credit_line

logger = logging.getLogger(__name__)


#: pip options written above the requirements: torch's CPU build, from PyTorch's own index. A Space's CPU
#: machine has no GPU, and PyPI's Linux torch is the CUDA build (several GB more to download and install);
#: from both indexes pip takes ``2.13.0+cpu`` over PyPI's ``2.13.0`` (a local version sorts after its public one).
SPACE_PIP_OPTIONS = ("--extra-index-url https://download.pytorch.org/whl/cpu",)

#: What the demo imports, from PyPI, at the lowest versions the code runs with (torch capped as in
#: pyproject.toml, at the CPU build the tests run). demo/requirements.txt carries the same lines (a test keeps
#: them equal).
SPACE_REQUIREMENTS = (
    "torch>=2.4,<=2.13.0",
    "transformers>=5.0",
    "huggingface_hub>=1.0",
    "safetensors>=0.4",
    "soundfile>=0.12",
    "soxr>=0.3",
    "numpy>=1.24",
    "matplotlib>=3.7",
    "gradio>=5.0",
    "silero-vad>=5.1",  # the demo's "speech segments" choice
    "onnxruntime>=1.22",  # a model exported by `hf-emotion export`
    "scikit-learn>=1.4",  # a model with a speaker-adaptive head ("calibrate with your voice")
)

#: What the Space copies of a model folder, as glob patterns: what serving reads (weights or the ONNX graph,
#: config, feature extractor, remote code, a speaker-adaptive head) and the model's card. Nothing else: a run's
#: predictions.json and trainer_state.json name the training machine's clip paths, checkpoints and fold folders
#: are other models, training_args.bin is a pickle that Hub scanners flag.
SERVED_FILE_PATTERNS = (*MODEL_FILE_PATTERNS, *REMOTE_CODE_FILES, ONNX_FILE, f"{ONNX_FILE}.data", "README.md")
#: Where a cross-validation run keeps its final model (``hf_emotion.training.final_model.FINAL_FOLDER``; not
#: imported, so that writing a Space does not load the training code).
FINAL_FOLDER = "final"
#: The files that hold a model's weights: a folder with none of them serves nothing.
WEIGHTS_FILES = (WEIGHTS_FILE, "model.safetensors.index.json", ONNX_FILE)

APP_TEMPLATE = '''"""{title}: a Gradio Space written by `hf-emotion space`.

The app is hf_emotion.app.demo (the package's code sits beside this file). The model is
$HF_EMOTION_MODEL when set (a folder or Hub id), else {model_note}.
"""

import logging
from pathlib import Path

from hf_emotion.app.demo import build_demo_for, launch

HERE = Path(__file__).resolve().parent
MODEL = {model_expr}

# Once, at import, as Spaces runs this file; the examples are the clips `hf-emotion space` copied.
demo = build_demo_for(candidates=[MODEL], examples_folder=HERE / {examples_dir!r})

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    launch(demo)
'''

README_BODY = """
# {title}

Speech emotion recognition: upload or record speech and get the probability of each emotion,
a valence/arousal point on the circumplex plane and, for longer recordings, a timeline.
Model: {model_link}. Written by `hf-emotion space` (hf-emotion {package_version}).

{examples_note}

Call it from Python with `gradio_client`:

```python
from gradio_client import Client, handle_file

label, circumplex, timeline, numbers = Client("<owner>/<space>").predict(
    handle_file("speech.wav"), api_name="/predict"
)
print(numbers["label"], numbers["valence"], numbers["arousal"])
```

When the model has a speaker-adaptive head, open *Calibrate with your voice*: give a few clips of
your own voice (different sentences and moods) and recordings are then judged against them
(`numbers["mode"]` says `speaker_adaptive`). From Python, in the same `Client`:
`client.predict([handle_file(f) for f in my_clips], api_name="/calibrate")` before `/predict`,
and `/forget_voice` to go back to clip by clip. It misleads when your clips all carry one emotion.

Run it on your own machine: `pip install -r requirements.txt && python app.py`.
"""


def is_hub_id(model: str) -> bool:
    """``owner/name`` that is not a folder here: a model on the Hub."""
    return not os.path.exists(model) and model.count("/") == 1 and not model.startswith((".", "/", "~"))


def gradio_version() -> str:
    """The installed gradio's version: the Space runs the version the demo was tried with."""
    try:
        return version("gradio")
    except PackageNotFoundError as error:
        raise ValueError(
            "hf-emotion space takes the Space's sdk_version from the installed gradio, which is missing: "
            "pip install 'hf-emotion[demo]', or pass --sdk_version"
        ) from error


def is_model_folder(folder: Path) -> bool:
    """Whether ``folder`` holds a model to serve: its config and its weights (safetensors, sharded or not, or an
    ONNX graph)."""
    return (folder / "config.json").is_file() and any((folder / name).is_file() for name in WEIGHTS_FILES)


def served_model_folder(model: Path) -> Path:
    """The one model folder a Space serves for ``--model``: the folder itself when it holds a model; for a
    cross-validation run folder without a model of its own, its ``final/`` model.

    Raises:
        ConfigurationError: a run folder whose models are only its folds' (which one to serve is the user's
            choice).
        MissingInputError: a folder without ``config.json``, or without weights.
    """
    if is_model_folder(model):
        return model
    if is_model_folder(model / FINAL_FOLDER):
        return model / FINAL_FOLDER
    folds = sorted(p.name for p in model.glob("fold_*") if is_model_folder(p))
    if folds:
        raise ConfigurationError(
            f"--model {model}: a cross-validation run without a final model; give one fold's folder "
            f"(--model {model / folds[0]}, one of {', '.join(folds)}), or train it with --final_model"
        )
    if not (model / "config.json").is_file():
        raise MissingInputError(
            f"--model {model}: no config.json there; give a trained model folder or a Hub id (owner/name)"
        )
    raise MissingInputError(
        f"--model {model}: no {' or '.join((WEIGHTS_FILE, ONNX_FILE))} there, so a Space would serve no model; "
        "give the folder a finished training run (or hf-emotion export) saved its model into"
    )


def copy_served_files(model: Path, target: Path) -> list[str]:
    """Copy what serving needs of ``model`` (:data:`SERVED_FILE_PATTERNS`) into ``target``; returns the names."""
    names = sorted({name for pattern in SERVED_FILE_PATTERNS for name in glob.glob(pattern, root_dir=model)})
    names = [name for name in names if (model / name).is_file()]
    target.mkdir(parents=True)
    for name in names:
        shutil.copy2(model / name, target / name)
    return names


def _shown_name(model: Path, served: Path) -> str:
    """``run`` or ``run/final``: where the Space's model came from, without the machine's path to it."""
    name = model.resolve().name
    return name if served == model else f"{name}/{served.name}"


def _model_license(model_dir: Path) -> str | None:
    card = model_dir / "README.md"
    return SpaceCard.load(card).data.get("license") if card.is_file() else None


def write_space(
    model: str | os.PathLike,
    out: str | os.PathLike,
    *,
    title: str = "Speech Emotion Recognition",
    sdk_version: str | None = None,
    examples_from: Sequence[str] | None = None,
) -> Path:
    """Write a ready Space folder serving ``model`` (a trained model folder or a Hub id) into ``out``.

    Args:
        model: a folder written by finetune.py, or the Hub id of a pushed model.
        out: the Space folder to write; it must not exist or be empty.
        title: the Space's title.
        sdk_version: the gradio version the Space runs (default: the installed one).
        examples_from: the corpus folders to take the example clips of the model's test speakers from, one
            per corpus it trained on (default: the folders its run recorded; none at hand: synthetic tones).

    Returns:
        The Space folder.

    Raises:
        MissingInputError: ``model`` is neither a model folder (config and weights) nor a Hub id.
        ConfigurationError: ``model`` is a cross-validation run with no final model (give one fold).
        FileExistsError: ``out`` holds files already.
    """
    model, out = os.fspath(model), Path(out)
    hub = is_hub_id(model)
    served = None if hub else served_model_folder(Path(model))
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"--out {out} is not empty; give a new or empty folder")
    out.mkdir(parents=True, exist_ok=True)

    package_dir = Path(__file__).resolve().parents[1]  # the whole hf_emotion package
    shutil.copytree(package_dir, out / "hf_emotion", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    if hub:
        model_expr, model_note, model_link, licence = repr(model), f"the Hub model {model}", model, None
    else:
        copy_served_files(served, out / MODEL_BESIDE_APP)
        model_expr = f"HERE / {MODEL_BESIDE_APP!r}"
        model_note = f"the model in {MODEL_BESIDE_APP}/ beside this file"
        model_link = f"`{MODEL_BESIDE_APP}/` in this Space (copied from {_shown_name(Path(model), served)})"
        licence = _model_license(served)
    examples = [] if hub else _copy_test_speaker_clips(model, examples_from, out / EXAMPLES_DIR)

    (out / "app.py").write_text(
        APP_TEMPLATE.format(
            title=title, model_expr=model_expr, model_note=model_note, examples_dir=EXAMPLES_DIR
        )
    )
    (out / "requirements.txt").write_text("\n".join((*SPACE_PIP_OPTIONS, *SPACE_REQUIREMENTS)) + "\n")
    card_data = SpaceCardData(
        title=title,
        sdk="gradio",
        sdk_version=sdk_version or gradio_version(),
        python_version=f"{sys.version_info.major}.{sys.version_info.minor}",
        app_file="app.py",
        license=licence,
        models=[model] if hub else None,
        tags=["audio-classification", "speech-emotion-recognition"],
    )
    examples_note = (
        f"Examples: {credit_line(examples)}"
        if examples
        else "Examples: synthetic tones (no recordings of the model's test speakers were at hand)."
    )
    body = README_BODY.format(
        title=title, model_link=model_link, package_version=_package_version(), examples_note=examples_note
    )
    SpaceCard(f"---\n{card_data.to_yaml()}\n---\n{body}").save(out / "README.md")
    logger.info("wrote the Space folder %s (model: %s)", out, model)
    return out


def _copy_test_speaker_clips(model: str, examples_from: Sequence[str] | None, folder: Path) -> list:
    # Imported here: picking reads corpora (datasets), which the demo this module serves must not need.
    from .example_picking import find_examples

    found = find_examples(model, examples_from)
    logger.info("%d example clips of the model's test speakers copied into %s", len(found), folder)
    return copy_examples(found, folder) if found else []


def _package_version() -> str:
    try:
        return version("hf-emotion")
    except PackageNotFoundError:  # run from a checkout that is not installed
        return "unknown"
