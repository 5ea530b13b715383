"""Which trained model a command serves when none is named: the general model first.

``hf-emotion demo``, ``hf-emotion space``, ``demo/app.py`` and a Space's ``app.py`` take the model given,
else ``$HF_EMOTION_MODEL`` (a folder or Hub id), else the first of their candidate folders that exists:
a ``model/`` folder beside the app, then the general model (``configs/whisper-tiny.en-general.json``:
every corpus, a final model on all speakers), then the main fine-tuning job's model. Kept apart from the
Gradio app so that commands choosing a model need not import Gradio.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

#: The folder a Space (or any app script) keeps its model in, beside ``app.py``.
MODEL_BESIDE_APP = "model"
#: The general model (configs/whisper-tiny.en-general.json: every corpus, all speakers), preferred when trained.
GENERAL_MODEL_DIR = "outputs/whisper-tiny.en-general"
#: The model the main fine-tuning job writes (relative to the folder it runs from).
DEFAULT_MODEL_DIR = "outputs/whisper-tiny.en-ravdess-speech"
MODEL_ENV = "HF_EMOTION_MODEL"
#: The folders trainings write, best first: what a Space is written from.
TRAINED_MODEL_DIRS = (GENERAL_MODEL_DIR, DEFAULT_MODEL_DIR)
#: The folders an app tries, in order, when no model is named.
MODEL_CANDIDATES = (MODEL_BESIDE_APP, *TRAINED_MODEL_DIRS)


def resolve_model(
    model: str | os.PathLike | list[str | os.PathLike] | None = None,
    *,
    candidates: Sequence[str | os.PathLike] = MODEL_CANDIDATES,
) -> str:
    """The model to serve: the argument, else ``$HF_EMOTION_MODEL``, else the first candidate folder
    that exists (else the last candidate, so the error names where a model was expected).

    Several models (a list, or names separated by commas) come back comma-separated.
    """
    if model and not isinstance(model, (str, os.PathLike)):
        return ",".join(os.fspath(m) for m in model)
    if model:
        return os.fspath(model)
    if os.environ.get(MODEL_ENV):
        return os.environ[MODEL_ENV]
    found = next((c for c in candidates if Path(c).is_dir()), candidates[-1])
    return os.fspath(found)
