"""va-rf: valence/arousal regression with a random forest on summary statistics.

Two inputs:

(b) speech corpora (``--dataset``): the 120 ``va`` features of
    :mod:`baselines.features` (mean, median, std, max and min over time of 24 frame
    descriptors) against the dataset's ``valence``/``arousal`` columns, under the same
    speaker folds as every other system. For the shared table the predicted point is also
    turned into an emotion, the label (among the training labels) whose circumplex
    coordinate (:data:`hf_emotion.data.targets.CIRCUMPLEX`) is nearest, so UA/WA/F1 and a confusion
    matrix exist for va-rf too; they measure the regressor, not a classifier.

(a) dynamic annotations in the DEAM layout (``--deam_dir`` holding ``arousal.csv`` and
    ``valence.csv``: one row per song, ``song_id`` then one column per time step such as
    ``sample_15000ms``; cells may be empty). DEAM ships no speech, and this project does
    not carry its audio, so the inputs are the annotations themselves: for each song the
    summary statistics (mean, median, std, max, min) of the *first part* of its valence and
    of its arousal series (``--deam_prefix``, default the first 50 % of its annotated
    steps, 10 features) predict the mean of the *whole* series (both dimensions). This asks
    how well an early listener's impression forecasts the song's overall rating. Songs are
    dealt into ``--num_folds`` folds (seeded), fold ``--fold`` is the test set.
"""

from __future__ import annotations

import csv
import logging
import os
import re
from pathlib import Path

import numpy as np

from ..data.splits import Split
from ..data.targets import CIRCUMPLEX
from ..evaluation.metrics import regression_metrics, summarize_folds, write_summary
from .common import FoldData, SystemOutput, write_json
from .features import summary_statistics
from .persistence import save_sklearn

logger = logging.getLogger(__name__)

FEATURE_KEY = "va"
TIME_COLUMN = re.compile(r"^sample_(\d+)ms$")


def _forest(args, seed: int):
    from sklearn.ensemble import RandomForestRegressor

    return RandomForestRegressor(
        n_estimators=args.n_estimators or 200,
        min_samples_leaf=2,
        random_state=seed,
        n_jobs=args.n_jobs or None,
    )


def nearest_emotion(points: np.ndarray, label_names, allowed) -> np.ndarray:
    """Index (into ``label_names``) of the allowed label whose circumplex point is nearest."""
    candidates = [k for k in allowed if label_names[k] in CIRCUMPLEX]
    centres = np.array([CIRCUMPLEX[label_names[k]] for k in candidates])  # (K, 2)
    distance = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=-1)
    return np.asarray(candidates)[distance.argmin(axis=1)]


def plot_scatter(prediction: np.ndarray, target: np.ndarray, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(8, 4))
    for d, (ax, name) in enumerate(zip(axes, ("valence", "arousal"), strict=True)):
        ax.scatter(target[:, d], prediction[:, d], s=8, alpha=0.5)
        low = float(np.nanmin([target[:, d].min(), prediction[:, d].min()]))
        high = float(np.nanmax([target[:, d].max(), prediction[:, d].max()]))
        ax.plot([low, high], [low, high], color="grey", lw=0.5)
        ax.set(xlabel=f"true {name}", ylabel=f"predicted {name}")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def fit_predict(fold: FoldData, output_dir: Path, args) -> SystemOutput:
    train = fold.train_and_validation()
    known = np.isfinite(train.targets).all(axis=1)
    if not known.any():
        raise ValueError("va-rf: no training clip has valence/arousal targets (columns 'valence', 'arousal')")
    model = _forest(args, fold.seed)
    model.fit(train.features[known], train.targets[known])
    save_sklearn(model, output_dir / "model.skops")
    prediction = model.predict(fold.test.features)  # (N, 2)
    plot_scatter(prediction, fold.test.targets, output_dir / "valence_arousal_scatter.png", "va-rf (speech)")
    y_pred = nearest_emotion(prediction, fold.label_names, sorted(set(train.labels.tolist())))
    return SystemOutput(y_pred=y_pred, valence_arousal=prediction)


# --------------------------------------------------------------------------- DEAM layout


def read_deam_table(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """``song_id`` → the series of one DEAM dynamic-annotation CSV, in time order; empty cells are NaN.

    Raises:
        ValueError: no ``song_id`` column, or no ``sample_<ms>ms`` columns.
    """
    path = Path(path)
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = [h.strip() for h in next(reader)]
        if "song_id" not in header:
            raise ValueError(
                f"{path}: no 'song_id' column (the header is {header[:5]}...); is it a DEAM annotation table?"
            )
        timed = sorted(
            ((int(m.group(1)), i) for i, h in enumerate(header) if (m := TIME_COLUMN.match(h))),
            key=lambda t: t[0],
        )
        if not timed:
            raise ValueError(f"{path}: no time-step columns named like 'sample_15000ms'")
        id_column = header.index("song_id")
        series = {}
        for row in reader:
            if not row or not row[id_column].strip():
                continue
            values = []
            for _, i in timed:
                cell = row[i].strip() if i < len(row) else ""
                try:
                    values.append(float(cell) if cell else np.nan)
                except ValueError:
                    values.append(np.nan)
            series[row[id_column].strip()] = np.array(values, dtype=np.float64)
    return series


def deam_features(series: np.ndarray, prefix: float) -> np.ndarray:
    """Summary statistics of the first ``prefix`` fraction of a series' annotated (non-NaN) steps."""
    values = series[np.isfinite(series)]
    if values.size == 0:
        return np.full(5, np.nan)
    head = values[: max(1, int(round(prefix * values.size)))]
    return summary_statistics(head[None, :])


def load_deam(deam_dir: str | os.PathLike, prefix: float = 0.5) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Songs, features ``(N, 10)`` (valence stats then arousal stats) and targets ``(N, 2)`` (whole-series means).

    Songs missing from one table, or with no annotated value in either, are logged and left out.
    """
    root = Path(deam_dir)
    tables = {}
    for name in ("valence", "arousal"):
        path = root / f"{name}.csv"
        if not path.exists():
            raise FileNotFoundError(
                f"{path} not found: --deam_dir needs arousal.csv and valence.csv (DEAM layout)"
            )
        tables[name] = read_deam_table(path)
    songs = sorted(set(tables["valence"]) & set(tables["arousal"]), key=lambda s: (len(s), s))
    dropped = sorted(set(tables["valence"]) ^ set(tables["arousal"]))
    kept, features, targets = [], [], []
    for song in songs:
        v, a = tables["valence"][song], tables["arousal"][song]
        if not (np.isfinite(v).any() and np.isfinite(a).any()):
            dropped.append(song)
            continue
        kept.append(song)
        features.append(np.concatenate([deam_features(v, prefix), deam_features(a, prefix)]))
        targets.append([np.nanmean(v), np.nanmean(a)])
    if dropped:
        logger.warning(
            "DEAM %s: left out %d songs without annotations in both tables: %s",
            root,
            len(dropped),
            dropped[:10],
        )
    if not kept:
        raise ValueError(f"{root}: no song has both valence and arousal annotations")
    return kept, np.array(features), np.array(targets)


def run_deam(args) -> dict:
    """va-rf on DEAM-layout annotation tables, fold by fold; writes the same result files."""
    from sklearn.model_selection import KFold

    output_dir = Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    songs, x, y = load_deam(args.deam_dir, args.deam_prefix)
    if len(songs) < args.num_folds:
        raise ValueError(f"--num_folds {args.num_folds} is more than the {len(songs)} annotated songs")
    folds = list(KFold(args.num_folds, shuffle=True, random_state=args.seed).split(x))
    chosen = range(args.num_folds) if args.cross_validation else [args.fold]
    results = []
    for k in chosen:
        train, test = folds[k]
        fold_dir = output_dir / f"fold_{k}" if args.cross_validation else output_dir
        fold_dir.mkdir(parents=True, exist_ok=True)
        Split(
            "song_folds",
            [songs[i] for i in train],
            [],
            [songs[i] for i in test],
            fold=k,
            num_folds=args.num_folds,
            seed=args.seed,
        ).to_json(fold_dir / "splits.json")
        model = _forest(args, args.seed)
        model.fit(x[train], y[train])
        save_sklearn(model, fold_dir / "model.skops")
        prediction = model.predict(x[test])
        metrics = regression_metrics(prediction, y[test])
        metrics.update({"fold": k, "n_train": len(train), "n_test": len(test)})
        write_json(
            fold_dir / "all_results.json",
            {**metrics, "system": "va-rf", "datasets": ["deam"], "skipped_files": []},
        )
        write_json(
            fold_dir / "predictions.json",
            {
                "system": "va-rf",
                "fold": k,
                "label_names": [],
                "y_true": [],
                "y_pred": [],
                "probabilities": None,
                "valence_arousal": prediction.tolist(),
                "valence_arousal_true": y[test].tolist(),
                "song_ids": [songs[i] for i in test],
            },
        )
        plot_scatter(
            prediction, y[test], fold_dir / "valence_arousal_scatter.png", f"va-rf on DEAM, fold {k}"
        )
        logger.info(
            "va-rf DEAM fold %d: CCC valence %.3f arousal %.3f",
            k,
            metrics["ccc_valence"],
            metrics["ccc_arousal"],
        )
        results.append(metrics)
    write_json(output_dir / "run_info.json", {"system": "va-rf", "datasets": ["deam"], "folds": list(chosen)})
    summary = (
        write_summary(results, output_dir, title="va-rf on DEAM annotations")
        if args.cross_validation
        else None
    )
    return {
        "folds": results,
        "summary": summary if summary is not None else summarize_folds(results),
        "skipped_files": [],
    }
