"""``hf-emotion compare RUN_DIR...``: one table and one figure over baselines and fine-tuned runs.

Each run directory is read as written by ``hf-emotion baseline`` or ``finetune.py``:

- metrics: ``cv_summary.json`` (mean ± std over folds) when present, else ``all_results.json``
  of the run (one fold), else the ``all_results.json`` of its ``fold_*`` folders summarised
  here. finetune.py's ``test_``/``eval_`` prefixes are stripped (``test_`` preferred).
- confusion matrix: ``predictions.json`` of the run, or of every ``fold_*`` folder pooled,
  in the format documented in :mod:`baselines.common` (``label_names``, ``y_true``, ``y_pred``).

Example::

    hf-emotion compare runs/rf-mfcc runs/mlp-spectral runs/whisper-base --output runs/compare
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from pathlib import Path

import numpy as np

from hf_emotion.errors import MissingInputError

logger = logging.getLogger(__name__)

COLUMNS = ("ua", "wa", "macro_f1", "ccc_valence", "ccc_arousal")
PREFIXES = ("test_", "eval_")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "run_dirs", nargs="+", help="run folders (baseline output_dir or finetune output_dir)"
    )
    parser.add_argument("--output", default=None, help="folder for comparison.md and confusion_matrices.png")
    parser.add_argument("--names", nargs="+", default=None, help="display names, one per run dir")


def strip_prefixes(metrics: dict) -> dict:
    """``test_ua``/``eval_ua`` → ``ua`` (a ``test_`` value wins over ``eval_`` and an unprefixed one)."""
    out = {k: v for k, v in metrics.items() if not k.startswith(PREFIXES)}
    for prefix in reversed(PREFIXES):  # eval_ first, then test_ overwrites
        out.update({k[len(prefix) :]: v for k, v in metrics.items() if k.startswith(prefix)})
    return out


def _read(path: Path) -> dict:
    with open(path) as handle:
        return json.load(handle)


def _fold_dirs(run_dir: Path) -> list[Path]:
    return sorted((p for p in run_dir.glob("fold_*") if p.is_dir()), key=lambda p: (len(p.name), p.name))


def run_summary(run_dir: Path) -> dict[str, dict[str, float]]:
    """``metric -> {"mean", "std", "n"}`` of a run folder."""
    from hf_emotion.evaluation.metrics import summarize_folds

    if (run_dir / "cv_summary.json").exists():
        summary = _read(run_dir / "cv_summary.json").get("summary", {})
        return strip_prefixes(summary)
    if (run_dir / "all_results.json").exists():
        metrics = strip_prefixes(_read(run_dir / "all_results.json"))
        return summarize_folds([metrics])
    folds = [
        strip_prefixes(_read(d / "all_results.json"))
        for d in _fold_dirs(run_dir)
        if (d / "all_results.json").exists()
    ]
    if not folds:
        raise MissingInputError(
            f"{run_dir}: no cv_summary.json or all_results.json (here or in fold_*/); is it a baseline or finetune output_dir?"
        )
    return summarize_folds(folds)


def run_predictions(run_dir: Path) -> dict | None:
    """Pooled ``{"label_names", "y_true", "y_pred"}`` of a run (all folds), or None when it has none."""
    files = [run_dir / "predictions.json"] if (run_dir / "predictions.json").exists() else []
    files = files or [
        d / "predictions.json" for d in _fold_dirs(run_dir) if (d / "predictions.json").exists()
    ]
    pooled = None
    for path in files:
        data = _read(path)
        if not data.get("label_names") or not data.get("y_true"):
            continue
        if pooled is None:
            pooled = {"label_names": list(data["label_names"]), "y_true": [], "y_pred": []}
        elif data["label_names"] != pooled["label_names"]:
            raise ValueError(f"{path}: label_names differ from the other folds of {run_dir}")
        pooled["y_true"] += data["y_true"]
        pooled["y_pred"] += data["y_pred"]
    return pooled


def run_name(run_dir: Path) -> str:
    info = run_dir / "run_info.json"
    if not info.exists():  # folds run one by one (--fold k into fold_k/) keep it per fold
        info = next(
            (d / "run_info.json" for d in _fold_dirs(run_dir) if (d / "run_info.json").exists()), info
        )
    if info.exists():
        data = _read(info)
        protocol = data.get("protocol", "")
        suffix = " (random split)" if protocol == "random" else ""
        return f"{data.get('system', run_dir.name)} · {'+'.join(data.get('datasets', []))}{suffix}"
    return run_dir.name


def _cell(summary: dict, key: str) -> str:
    if key not in summary:
        return "–"
    s = summary[key]
    if s["mean"] is None or (isinstance(s["mean"], float) and math.isnan(s["mean"])):
        return "–"
    return f"{s['mean']:.3f} ± {s['std']:.3f}"


def comparison_table(names: list[str], summaries: list[dict]) -> str:
    """Markdown: one row per run, ``mean ± std`` over folds of :data:`COLUMNS`."""
    lines = ["| run | folds | " + " | ".join(COLUMNS) + " |", "|---|---|" + "---|" * len(COLUMNS)]
    for name, summary in zip(names, summaries, strict=True):
        folds = max((s.get("n", 1) for k, s in summary.items() if k in COLUMNS), default=0)
        lines.append(f"| {name} | {folds} | " + " | ".join(_cell(summary, k) for k in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def plot_confusion_matrices(names: list[str], predictions: list[dict | None], path: Path) -> None:
    """Row-normalised confusion matrices side by side (runs without predictions are left out)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hf_emotion.evaluation.metrics import plot_confusion_matrix

    shown = [(n, p) for n, p in zip(names, predictions, strict=True) if p is not None]
    if not shown:
        logger.warning("no run has predictions.json; no confusion-matrix figure written")
        return
    size = max(len(p["label_names"]) for _, p in shown)
    fig, axes = plt.subplots(
        1, len(shown), figsize=(0.75 * size * len(shown) + 1, 0.75 * size + 1.2), squeeze=False
    )
    for ax, (name, data) in zip(axes[0], shown, strict=True):
        y_true, y_pred = np.asarray(data["y_true"]), np.asarray(data["y_pred"])
        ua = float(np.mean([np.mean(y_pred[y_true == k] == k) for k in np.unique(y_true)]))
        plot_confusion_matrix(
            y_true, y_pred, data["label_names"], ax=ax, title=f"{name}\nUA {ua:.3f} (pooled)"
        )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def compare(run_dirs, output: str | None = None, names=None) -> str:
    """Build the table (returned) and, with ``output``, write comparison.md and confusion_matrices.png."""
    run_dirs = [Path(d) for d in run_dirs]
    for d in run_dirs:
        if not d.is_dir():
            raise MissingInputError(f"run dir {d} does not exist")
    if names and len(names) != len(run_dirs):
        raise ValueError(f"--names has {len(names)} entries for {len(run_dirs)} run dirs")
    names = list(names) if names else [run_name(d) for d in run_dirs]
    table = comparison_table(names, [run_summary(d) for d in run_dirs])
    if output:
        out = Path(output)
        out.mkdir(parents=True, exist_ok=True)
        (out / "comparison.md").write_text(table)
        plot_confusion_matrices(names, [run_predictions(d) for d in run_dirs], out / "confusion_matrices.png")
        logger.info("wrote %s and %s", out / "comparison.md", out / "confusion_matrices.png")
    return table


def run(args: argparse.Namespace) -> int:
    print(compare(args.run_dirs, args.output, args.names))
    return 0
