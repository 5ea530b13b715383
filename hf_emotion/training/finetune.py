"""``finetune.py`` / ``hf-emotion train``: parse the arguments, load the data, run the recipe on each fold, summarise.

    accelerate launch --quiet finetune.py configs/whisper-tiny.en-ravdess-speech.json
    hf-emotion train --model_name_or_path whisper-tiny.en --dataset ravdess --data_dir DATA --output_dir OUT

The steps of a fold are in ``hf_emotion.training.recipe``, in the order they run.
"""

from __future__ import annotations

import json
import logging
import sys

import transformers
from transformers import HfArgumentParser, set_seed

from ..errors import user_errors
from ..preflight import check_output_folder
from .arguments import DataArguments, EmotionTrainingArguments, ModelArguments
from .placement import use_every_core
from .recipe import FoldResult, folds_to_run, load_run, train_fold
from .summary import summarise_folds

logger = logging.getLogger(__name__)


def parse_args(argv: list[str] | None = None):
    """Flags, or a run file (``configs/*.json``) optionally followed by flags that override it."""
    parser = HfArgumentParser((ModelArguments, DataArguments, EmotionTrainingArguments))
    argv = list(sys.argv[1:] if argv is None else argv)
    with user_errors(ValueError, OSError):  # a missing or malformed run file, arguments that do not fit
        if argv and argv[0].endswith(".json"):
            with open(argv[0]) as handle:
                values = json.load(handle)
            if not isinstance(values, dict):
                raise ValueError(
                    f"{argv[0]}: a run file holds one JSON object of flags, e.g. "
                    f'{{"dataset": ["ravdess"], "output_dir": "outputs/run"}}; this one holds a '
                    f"{type(values).__name__}"
                )
            argv = run_file_to_flags(values) + argv[1:]  # later flags win
        return parser.parse_args_into_dataclasses(args=argv)


def run_file_to_flags(values: dict) -> list[str]:
    flags = []
    for key, value in values.items():
        if isinstance(value, list):
            flags += [f"--{key}", *map(str, value)] if value else []
        elif value is not None:
            flags += [f"--{key}", str(value).lower() if isinstance(value, bool) else str(value)]
    return flags


def setup_logging(training_args: EmotionTrainingArguments) -> None:
    """INFO on the main process; the other processes of ``accelerate launch`` say only what goes wrong."""
    rank = (
        f"[process {training_args.process_index}/{training_args.world_size}] "
        if training_args.world_size > 1
        else ""
    )
    logging.basicConfig(
        format=f"%(asctime)s %(levelname)s {rank}%(name)s: %(message)s",
        level=logging.INFO if training_args.process_index == 0 else logging.WARNING,
        stream=sys.stdout,
        force=True,
    )
    transformers.utils.logging.set_verbosity_warning()


def main(argv: list[str] | None = None) -> dict:
    """Train every fold asked for; returns the fold's metrics, or the cross-validation's means."""
    model_args, data_args, training_args = parse_args(argv)
    check_output_folder(training_args.output_dir, "--output_dir")  # not a file, writable: before any work
    setup_logging(training_args)
    logger.info(
        "Model %s | data %s | %d process(es) on %s",
        model_args,
        data_args,
        training_args.world_size,
        training_args.device,
    )
    logger.info("Precision %s: %s", training_args.precision, training_args.precision_reason)
    threads = use_every_core(training_args)
    if threads:
        logger.info(threads)
    set_seed(training_args.seed)

    run = load_run(model_args, data_args, training_args)
    results: list[FoldResult] = [train_fold(run, fold) for fold in folds_to_run(data_args)]
    if not data_args.cross_validation:
        return results[0].metrics
    return summarise_folds(run, results)
