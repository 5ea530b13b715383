"""The Gradio demo as a script: ``python demo/app.py`` (or a Space's ``app.py``).

The app itself lives in :mod:`hf_emotion.app.demo`. The model is ``$HF_EMOTION_MODEL`` (a folder
or Hub id), else a ``model/`` folder beside this file, else the general model
(``outputs/whisper-tiny.en-general`` in the repository), else the main fine-tuning job's
(``outputs/whisper-tiny.en-ravdess-speech``). It is loaded once,
at import, as Spaces runs this file.
"""

import logging
import sys
from pathlib import Path

from hf_emotion.app.demo import build_demo_for, launch
from hf_emotion.serving.default_model import MODEL_BESIDE_APP, TRAINED_MODEL_DIRS

HERE = Path(__file__).resolve().parent

try:
    # With the model's panel and clips of its test speakers, from the data folder its run recorded.
    demo = build_demo_for(
        candidates=[HERE / MODEL_BESIDE_APP, *(HERE.parent / d for d in TRAINED_MODEL_DIRS)]
    )
except FileNotFoundError as error:
    sys.exit(str(error))

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    launch(demo)
