"""``hf-emotion space [--model M] --out DIR``: write a ready Hugging Face Space folder serving M.

Without ``--model`` it serves what ``hf-emotion demo`` would (:func:`~hf_emotion.serving.default_model.resolve_model`):
``$HF_EMOTION_MODEL``, else the general model's folder, else the main job's."""

from __future__ import annotations

import argparse
import logging
import os

from ..errors import user_errors
from ..preflight import check_model_source

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # dest is not "model": the CLI's common check of --model (a folder with config.json) would refuse a
    # cross-validation run folder before write_space could serve its final model or name a fold to give.
    parser.add_argument(
        "--model",
        dest="served_model",
        default=None,
        help="trained model folder (what serving needs of it is copied into the Space) or Hub id (linked); "
        "a cross-validation run folder serves the run's model (default: $HF_EMOTION_MODEL, else "
        "outputs/whisper-tiny.en-general, else outputs/whisper-tiny.en-ravdess-speech)",
    )
    parser.add_argument("--out", required=True, help="the Space folder to write (new or empty)")
    parser.add_argument("--title", default="Speech Emotion Recognition", help="the Space's title")
    parser.add_argument(
        "--examples_from",
        action="append",
        default=None,
        metavar="DATA_DIR",
        help="corpus folder to copy example clips of the model's test speakers from, one per corpus it "
        "trained on (default: the folders its run recorded; none found: synthetic tones)",
    )
    parser.add_argument(
        "--sdk_version", default=None, help="gradio version the Space runs (default: the installed one)"
    )


def run(args: argparse.Namespace) -> int:
    from ..hub.space import write_space
    from ..serving.default_model import TRAINED_MODEL_DIRS, resolve_model

    # Not the demo's model/ folder: a Space is written from the trained models, never into one.
    args.served_model = resolve_model(args.served_model, candidates=TRAINED_MODEL_DIRS)
    if not os.path.isdir(args.served_model):  # a Hub id, or a typo'd folder: said as for other commands
        check_model_source(args.served_model)
    with user_errors(OSError, ValueError):  # a missing model, a full --out: one line, status 2
        out = write_space(
            args.served_model,
            args.out,
            title=args.title,
            sdk_version=args.sdk_version,
            examples_from=args.examples_from,
        )
    logger.info(
        "try it: cd %s && pip install -r requirements.txt && python app.py; then upload the folder "
        "(hf upload <owner>/<space> %s --repo-type space)",
        out,
        out,
    )
    return 0
