"""The protocol every baseline runs under: same corpora, same speaker folds, same metrics.

A system only supplies ``fit_predict(fold, output_dir, options) -> SystemOutput``; this
module loads the corpora, computes (or reads cached) features once, deals the folds with
:func:`hf_emotion.data.splits.make_split`, and writes, per fold, ``all_results.json``,
``predictions.json``, ``confusion_matrix.png`` and ``splits.json``, then the cross-validation
summary with :func:`hf_emotion.evaluation.metrics.write_summary`.

``predictions.json`` (read by ``hf-emotion compare``)::

    {"system": "rf-mfcc", "fold": 0, "label_names": ["neutral", ...],
     "y_true": [int, ...], "y_pred": [int, ...],          # indices into label_names
     "probabilities": [[float, ...], ...] | null,         # (N, len(label_names)) or null
     "valence_arousal": [[v, a], ...] | null,             # predictions, when the system has them
     "paths": [str, ...], "speakers": [str, ...]}
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..corpora import load_corpora
from ..data.splits import Split, apply_split, make_split
from ..errors import ConfigurationError
from ..evaluation.metrics import (
    classification_metrics,
    plot_confusion_matrix,
    regression_metrics,
    write_summary,
)
from ..training.plan import check_training_plan
from .features import AUGMENTATIONS, extract_features

logger = logging.getLogger(__name__)

# name -> (module, one line)
SYSTEMS: dict[str, tuple[str, str]] = {
    "rf-mfcc": (".rf_mfcc", "random forest on 40 MFCC means + stds (80)"),
    "mlp-spectral": (".mlp_spectral", "MLP on MFCC + chroma + mel means (180)"),
    "cnn1d": (".cnn1d", "1-D CNN on a 264-value feature vector"),
    "cnn2d-mel": (".cnn2d_mel", "2-D CNN on 128x128 log-mel spectrograms"),
    "va-rf": (".va_rf", "random-forest valence/arousal regression on summary statistics"),
}


@dataclass
class Part:
    """One split's clips: features and targets, row-aligned."""

    features: np.ndarray  # (N, D), or (N,) object array of (128, T) log-mels for cnn2d-mel
    labels: np.ndarray  # (N,) int into label_names
    speakers: np.ndarray  # (N,) str
    paths: list[str]
    targets: np.ndarray  # (N, 2) valence, arousal
    augmented: dict[str, np.ndarray] = field(default_factory=dict)  # variant -> (N, D)

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class FoldData:
    label_names: list[str]
    train: Part
    validation: Part
    test: Part
    seed: int = 0

    def train_and_validation(self) -> Part:
        """Train + validation together, for systems that do no model selection on validation."""
        a, b = self.train, self.validation
        cat = np.concatenate
        return Part(
            features=cat([a.features, b.features]),
            labels=cat([a.labels, b.labels]),
            speakers=cat([a.speakers, b.speakers]),
            paths=a.paths + b.paths,
            targets=cat([a.targets, b.targets]),
            augmented={k: cat([a.augmented[k], b.augmented[k]]) for k in a.augmented},
        )


@dataclass
class SystemOutput:
    """What a system predicts for the test clips."""

    y_pred: np.ndarray  # (N,) int into label_names
    probabilities: np.ndarray | None = None  # (N, C) over label_names
    valence_arousal: np.ndarray | None = None  # (N, 2)
    extra_metrics: dict[str, float] = field(default_factory=dict)


def system_module(name: str):
    if name not in SYSTEMS:
        raise ValueError(f"unknown --system {name!r}; choose one of: {', '.join(SYSTEMS)}")
    return importlib.import_module(SYSTEMS[name][0], __package__)


def full_probabilities(probabilities: np.ndarray, classes: np.ndarray, num_labels: int) -> np.ndarray:
    """Columns of a classifier's ``predict_proba`` (over the classes it saw) → all labels."""
    full = np.zeros((probabilities.shape[0], num_labels), dtype=np.float64)
    full[:, np.asarray(classes, dtype=int)] = probabilities
    return full


def write_predictions(
    path: str | os.PathLike,
    *,
    system: str,
    fold: int | None,
    label_names,
    y_true,
    y_pred,
    probabilities=None,
    valence_arousal=None,
    paths=None,
    speakers=None,
) -> None:
    """Write ``predictions.json`` in the format above (module docstring)."""

    def as_list(array):
        return None if array is None else np.asarray(array).tolist()

    payload = {
        "system": system,
        "fold": fold,
        "label_names": list(label_names),
        "y_true": [int(v) for v in y_true],
        "y_pred": [int(v) for v in y_pred],
        "probabilities": as_list(probabilities),
        "valence_arousal": as_list(valence_arousal),
        "paths": list(paths) if paths is not None else None,
        "speakers": [str(s) for s in speakers] if speakers is not None else None,
    }
    with open(path, "w") as handle:
        json.dump(payload, handle)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_json(path: str | os.PathLike, payload: dict) -> None:
    with open(path, "w") as handle:
        json.dump(payload, handle, indent=2, default=_json_default)


# --------------------------------------------------------------------------- the protocol


def _folds_to_run(args) -> list[int | None]:
    if args.test_speakers:
        if args.cross_validation:
            raise ValueError("--test_speakers fixes one split; it cannot be combined with --cross_validation")
        return [None]
    if args.cross_validation:
        return list(range(args.num_folds))
    return [args.fold]


def _split_for(dataset, args, fold: int | None) -> Split:
    if args.random_split:
        # Repeated random 80/20 clip splits (validation is 10 % of the clips, inside the 80 %).
        seed = args.seed + (fold or 0)
        split = make_split(dataset, random_split=True, test_size=0.2, validation_size=0.1, seed=seed)
        split.fold, split.num_folds = fold, args.num_folds if args.cross_validation else None
        return split
    return make_split(
        dataset,
        num_folds=args.num_folds,
        fold=fold if fold is not None else 0,
        test_speakers=args.test_speakers,
        seed=args.seed,
    )


def run_baseline(args) -> dict:
    """Run one system over the requested folds; returns ``{"folds": [...], "summary": ...}``."""
    module = system_module(args.system)
    if getattr(args, "deam_dir", None):
        if args.system != "va-rf":
            raise ConfigurationError("--deam_dir is an input of --system va-rf only")
        return module.run_deam(args)
    if not args.dataset:
        raise ConfigurationError(
            "give --dataset (and --data_dir), or --deam_dir for va-rf on DEAM annotations"
        )
    output_dir = Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)

    dataset = load_corpora(args.dataset, args.data_dir or [])
    check_training_plan(dataset, args, seed=args.seed)  # folds, splits, classes: before any feature
    feature_key = module.FEATURE_KEY
    augmentations = tuple(getattr(module, "AUGMENTATIONS", ()))
    assert set(augmentations) <= set(AUGMENTATIONS)
    start = time.perf_counter()
    table = extract_features(
        dataset["audio"],
        augmentations=augmentations,
        with_logmel=feature_key == "logmel",
        n_jobs=args.n_jobs,
        cache_dir=args.cache_dir,
    )
    feature_seconds = time.perf_counter() - start
    dataset = dataset.select(table.indices)
    if len(dataset) == 0:
        raise ValueError("no clip could be decoded; see the warnings above for each file")
    if feature_key == "logmel":
        features = np.empty(len(table.logmel), dtype=object)
        features[:] = table.logmel
    else:
        features = table.vectors[feature_key]
    label_names = list(dataset.features["emotion"].names)
    labels = np.asarray(dataset["emotion"], dtype=int)
    speakers = np.asarray(dataset["speaker"])
    targets = np.stack([dataset["valence"], dataset["arousal"]], axis=1).astype(np.float64)
    paths = list(dataset["audio"])
    rows = dataset.add_column("_row", list(range(len(dataset))))

    def part(index: list[int]) -> Part:
        index = np.asarray(index, dtype=int)
        return Part(
            features=features[index],
            labels=labels[index],
            speakers=speakers[index],
            paths=[paths[i] for i in index],
            targets=targets[index],
            augmented={v: table.augmented[v][feature_key][index] for v in augmentations},
        )

    folds = _folds_to_run(args)
    results = []
    for fold in folds:
        fold_dir = output_dir / f"fold_{fold}" if args.cross_validation else output_dir
        fold_dir.mkdir(parents=True, exist_ok=True)
        split = _split_for(dataset, args, fold)
        split.to_json(fold_dir / "splits.json")
        parts = apply_split(rows, split)
        data = FoldData(
            label_names=label_names,
            train=part(parts["train"]["_row"]),
            validation=part(parts["validation"]["_row"]),
            test=part(parts["test"]["_row"]),
            seed=args.seed,
        )
        logger.info(
            "%s fold %s: %d train / %d validation / %d test clips (%d test speakers)",
            args.system,
            fold,
            len(data.train),
            len(data.validation),
            len(data.test),
            len(set(data.test.speakers)),
        )
        start = time.perf_counter()
        output = module.fit_predict(data, fold_dir, args)
        fit_seconds = time.perf_counter() - start
        metrics = classification_metrics(data.test.labels, output.y_pred, label_names)
        if output.valence_arousal is not None:
            metrics.update(regression_metrics(output.valence_arousal, data.test.targets))
        metrics.update(output.extra_metrics)
        metrics.update(
            {
                "fold": fold,
                "n_train": len(data.train),
                "n_validation": len(data.validation),
                "n_test": len(data.test),
                "fit_seconds": round(fit_seconds, 2),
                "feature_seconds": round(feature_seconds, 2),
            }
        )
        write_json(
            fold_dir / "all_results.json",
            {
                **metrics,
                "system": args.system,
                "datasets": list(args.dataset),
                "protocol": split.protocol,
                "skipped_files": table.skipped,
            },
        )
        write_predictions(
            fold_dir / "predictions.json",
            system=args.system,
            fold=fold,
            label_names=label_names,
            y_true=data.test.labels,
            y_pred=output.y_pred,
            probabilities=output.probabilities,
            valence_arousal=output.valence_arousal,
            paths=data.test.paths,
            speakers=data.test.speakers,
        )
        title = f"{args.system} fold {fold}: UA {metrics['ua']:.3f}"
        plot_confusion_matrix(
            data.test.labels, output.y_pred, label_names, fold_dir / "confusion_matrix.png", title=title
        )
        logger.info(
            "%s fold %s: UA %.3f WA %.3f macro-F1 %.3f",
            args.system,
            fold,
            metrics["ua"],
            metrics["wa"],
            metrics["macro_f1"],
        )
        results.append(metrics)

    run_info = {
        "system": args.system,
        "datasets": list(args.dataset),
        "data_dirs": [str(d) for d in (args.data_dir or [])],
        "protocol": "random" if args.random_split else ("fixed" if args.test_speakers else "speaker_folds"),
        "num_folds": args.num_folds,
        "folds": folds,
        "seed": args.seed,
        "skipped_files": table.skipped,
    }
    write_json(output_dir / "run_info.json", run_info)
    summary = None
    if args.cross_validation:
        summary = write_summary(results, output_dir, title=f"{args.system} on {'+'.join(args.dataset)}")
    return {"folds": results, "summary": summary, "skipped_files": table.skipped}
