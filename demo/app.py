"""The Gradio demo as a script: ``python demo/app.py`` (or a Space's ``app.py``).

The app itself lives in :mod:`hf_emotion.app.demo`. The model is ``$HF_EMOTION_MODEL`` (a folder
or Hub id), else a ``model/`` folder beside this file, else the folder the main fine-tuning
run writes (``outputs/whisper-tiny.en-ravdess-speech`` in the repository). It is loaded once,
at import, as Spaces runs this file.
"""

import logging
import sys
from pathlib import Path

from hf_emotion.app.demo import DEFAULT_MODEL_DIR, MODEL_BESIDE_APP, build_demo, launch, load_recognizer

HERE = Path(__file__).resolve().parent

try:
    recognizer = load_recognizer(candidates=[HERE / MODEL_BESIDE_APP, HERE.parent / DEFAULT_MODEL_DIR])
except FileNotFoundError as error:
    sys.exit(str(error))
demo = build_demo(recognizer)

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    launch(demo)
