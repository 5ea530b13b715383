"""``--final_model``: after cross-validation, one model trained on every speaker with what the folds chose.

The folds choose (on their validation speakers) how many epochs the probe, the fine-tuning and the head refit
need, the valence/arousal class mixing and the probabilities' temperature. The final model repeats those choices on all speakers of every
corpus (train, validation and test alike): no speaker is left to select on or to test on, so it has no
held-out score of its own. What it is expected to score is what the folds measured on their test speakers.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import math
import os
import statistics
import time
from collections.abc import Mapping, Sequence

import numpy as np
from transformers.trainer_utils import IntervalStrategy, SaveStrategy

from .class_mixing import class_mean_targets
from .heads import fit_heads_once
from .phases import PhaseClock
from .placement import training_dtype
from .temperature import mean_temperature
from .trainer import build_model, cut_to_speech, fine_tune

logger = logging.getLogger(__name__)

FINAL_FOLDER = "final"


def choose_final_epochs(fold_metrics: Sequence[Mapping], default_fine_tune_epochs: float) -> dict[str, int]:
    """The epoch counts of the final model: per step, the median over the folds of the epoch each fold kept,
    rounded up.

    ``probe_best_epoch`` and ``refit_best_epoch`` (0: the refit never beat the fine-tuned heads) come from the
    head fits; ``fine_tune_best_epoch`` is the Trainer's best checkpoint. When most folds kept the frozen probe
    over the fine-tuned model (``probe_selected``), the final model is the probe alone (fine-tuning 0 epochs, no
    refit). A step that no fold ran gets 0; folds that recorded no best epoch fall back to
    ``default_fine_tune_epochs`` (``--num_train_epochs``).
    """

    def median(key: str, default: float = 0) -> int:
        values = [m[key] for m in fold_metrics if m.get(key) is not None]
        return int(math.ceil(float(np.median(values)))) if values else int(math.ceil(default))

    probe_kept = sum(bool(m.get("probe_selected")) for m in fold_metrics)
    if probe_kept * 2 > len(fold_metrics):
        return {"probe": median("probe_best_epoch"), "fine_tune": 0, "refit": 0}
    return {
        "probe": median("probe_best_epoch"),
        "fine_tune": max(1, median("fine_tune_best_epoch", default_fine_tune_epochs)),
        "refit": median("refit_best_epoch"),
    }


def mean_class_mixing(fold_metrics: Sequence[Mapping]) -> dict[str, float]:
    """``class_mixing_weight_<target>``: the mean over the folds of each fold's chosen weight."""
    keys = sorted({k for m in fold_metrics for k in m if k.startswith("class_mixing_weight_")})
    return {k: float(np.mean([m[k] for m in fold_metrics if k in m])) for k in keys}


def final_training_args(training_args, output_dir: str, epochs: int):
    """The run's training arguments without evaluation, checkpoints or best-model loading: there is no
    validation speaker left to choose on."""
    args = copy.copy(training_args)
    args.output_dir = output_dir
    args.num_train_epochs = epochs
    args.eval_strategy = IntervalStrategy.NO
    args.save_strategy = SaveStrategy.NO
    args.load_best_model_at_end = False
    return args


def train_final_model(run, fold_metrics: Sequence[Mapping]) -> tuple[str, dict]:
    """Train the final model into ``<run_dir>/final``; returns the folder and its metrics (epochs, mixing, and
    the phase times of ``phases``). Its probe encodes with the pretrained encoder every fold's probe used, so
    the run's feature cache already holds those features."""
    clock = PhaseClock()
    output_dir = os.path.join(run.run_dir, FINAL_FOLDER)
    epochs = choose_final_epochs(fold_metrics, run.training_args.num_train_epochs)
    mixing = mean_class_mixing(fold_metrics) if run.model_args.class_mixing else {}
    logger.info(
        "Final model on all %d speakers (%d clips), no validation or test speakers left, so no model "
        "selection and no held-out score: probe %d, fine-tuning %d, refit %d epochs (the folds' medians)",
        len(set(run.dataset["speaker"])),
        len(run.dataset),
        epochs["probe"],
        epochs["fine_tune"],
        epochs["refit"],
    )
    everything = {"train": run.dataset, "validation": None}
    with clock.phase("finding_speech"):
        everything |= cut_to_speech(run, everything)
    with clock.phase("model_loading"):
        model, callbacks = build_model(run, run.dataset)
    metrics: dict = {}
    for step in ("probe", "fine_tune", "refit"):
        if not epochs[step]:
            continue
        if step == "fine_tune":
            final_run = dataclasses.replace(
                run, training_args=final_training_args(run.training_args, output_dir, epochs[step])
            )
            metrics |= fine_tune(final_run, model, everything, output_dir, None, callbacks, clock)[1]
        else:
            started = time.perf_counter()
            metrics |= fit_heads_once(run, model, everything, epochs=epochs[step], name=step)
            clock.add_split(step, started, metrics[f"{step}_encoding_seconds"])
    set_class_mixing(model.config, run.dataset, mixing)
    model.config.temperature = mean_temperature(fold_metrics) if run.model_args.temperature_scaling else 1.0
    metrics |= {f"final_{step}_epochs": n for step, n in epochs.items()} | mixing
    metrics["temperature"] = model.config.temperature
    metrics["final_num_speakers"] = len(set(run.dataset["speaker"]))
    if run.is_main:
        os.makedirs(output_dir, exist_ok=True)
        with clock.phase("speaker_adaptive"):
            metrics |= save_speaker_adaptive_head(run, model, output_dir, fold_metrics)
        with clock.phase("export"):
            model.save_pretrained(output_dir)
            run.feature_extractor.save_pretrained(output_dir)
        metrics |= clock.metrics()
        with open(os.path.join(output_dir, "all_results.json"), "w") as handle:
            json.dump(metrics, handle, indent=2)
    return output_dir, metrics


def save_speaker_adaptive_head(run, model, output_dir: str, fold_metrics: Sequence[Mapping]) -> dict:
    """--speaker_adaptive_head: the final model's head, on every speaker, with the median of the ``C`` the folds
    chose on their validation speakers (the lower median: one of the values tried)."""
    if not run.model_args.speaker_adaptive_head:
        return {}
    chosen = [m["adaptive_C"] for m in fold_metrics if m.get("adaptive_C") is not None]
    if not chosen:
        logger.warning("No fold fitted a speaker-adaptive head, so the final model gets none")
        return {}
    from .speaker_adaptive_head import fit_head_on_every_speaker

    C = float(statistics.median_low(chosen))
    head = fit_head_on_every_speaker(
        model,
        run.feature_extractor,
        run.dataset,
        C,
        max_seconds=run.data_args.max_eval_seconds,
        batch_size=run.training_args.per_device_eval_batch_size,
        dtype=training_dtype(run.training_args),
        encode=run.features,  # the refit's features of every clip, with this encoder
    )
    head.save(output_dir)
    logger.info("Speaker-adaptive head on all %d clips, C=%g (the folds' median)", len(run.dataset), C)
    return {"final_adaptive_C": C}


def set_class_mixing(config, dataset, mixing: Mapping[str, float]) -> None:
    """Class coordinates from every clip, the folds' mean weights; the regressor alone without mixing."""
    names = list(config.regression_targets)
    coordinates = class_mean_targets(dataset, config.num_labels, names) if mixing else None
    if coordinates is None:
        config.valence_arousal_class_weight = None
        return
    config.class_valence_arousal = coordinates
    config.valence_arousal_class_weight = [mixing.get(f"class_mixing_weight_{n}", 0.0) for n in names]
