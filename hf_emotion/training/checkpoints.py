"""Checkpoints and model folders on disk: which checkpoint a run resumes from, which files make a model."""

from __future__ import annotations

import json
import logging
import os
import shutil

from transformers.trainer import TRAINER_STATE_NAME
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from ..model.files import MODEL_FILES
from .placement import from_main

logger = logging.getLogger(__name__)


def last_complete_checkpoint(output_dir: str) -> str | None:
    """The newest ``checkpoint-N`` in ``output_dir`` that the Trainer finished writing, or None.

    ``Trainer._save_checkpoint`` writes ``trainer_state.json`` after the weights, optimiser and RNG
    state, so a run killed while saving leaves a newest checkpoint without it (or with it cut
    short). transformers' ``get_last_checkpoint`` would pick that one and the resumed run would
    fail on it; this skips it, with a warning naming it, and resumes from the one before.
    """
    checkpoints = []
    for name in os.listdir(output_dir) if os.path.isdir(output_dir) else []:
        prefix, _, step = name.partition("-")
        if (
            prefix == PREFIX_CHECKPOINT_DIR
            and step.isdigit()
            and os.path.isdir(os.path.join(output_dir, name))
        ):
            checkpoints.append((int(step), name))
    for _, name in sorted(checkpoints, reverse=True):
        path = os.path.join(output_dir, name)
        try:
            with open(os.path.join(path, TRAINER_STATE_NAME)) as f:
                json.load(f)
        except (OSError, ValueError) as error:
            logger.warning(
                "%s is incomplete (no readable %s, the last file the Trainer writes: %s); "
                "resuming from an earlier checkpoint",
                path,
                TRAINER_STATE_NAME,
                error,
            )
            continue
        return path
    return None


def resume_checkpoint(args, output_dir: str) -> str | None:
    """The checkpoint to resume from (``--resume_from_checkpoint``: a path, or latest/true for the newest
    complete one), decided on the main process for all."""
    is_main = args.process_index == 0
    checkpoint = args.resume_from_checkpoint
    if checkpoint in ("true", "True", "latest", True):
        checkpoint = last_complete_checkpoint(output_dir) if is_main else None
        if checkpoint is None and is_main:
            logger.info("No complete checkpoint in %s yet: the fold starts from the beginning", output_dir)
    return from_main(checkpoint or None, args)


def export_model(source_dir: str, target_dir: str) -> None:
    """Copy a trained model (weights, config, feature extractor, remote code) into another folder."""
    for name in MODEL_FILES:
        path = os.path.join(source_dir, name)
        if os.path.exists(path):
            shutil.copy2(path, os.path.join(target_dir, name))
