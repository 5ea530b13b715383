"""Metrics, plots and fold summaries shared by fine-tuning and the baselines.

Per-speaker normalisation and the transductive probe are in :mod:`hf_emotion.evaluation.speaker_normalisation`.

``ua`` (unweighted average recall = balanced accuracy) is the headline number: RAVDESS has
half as many neutral clips as other classes and CREMA-D is unbalanced too, so plain
accuracy (``wa``) rewards a model for favouring the big classes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

import numpy as np
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, f1_score, r2_score

HEADLINE_METRICS = ("ua", "wa", "macro_f1", "ccc_valence", "ccc_arousal")


def ccc(prediction: Sequence[float], target: Sequence[float]) -> float:
    """Lin's concordance correlation coefficient.

    ``2 cov(x, y) / (var(x) + var(y) + (mean(x) - mean(y))^2)`` with population (1/N)
    moments; 1 for perfect agreement, 0 for none, -1 for perfect inversion. NaN targets
    (a dataset without valence/arousal for some clips) are left out.
    """
    x = np.asarray(prediction, dtype=np.float64)
    y = np.asarray(target, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if x.size < 2:
        return float("nan")
    mx, my = x.mean(), y.mean()
    covariance = ((x - mx) * (y - my)).mean()
    denominator = x.var() + y.var() + (mx - my) ** 2
    return float(2 * covariance / denominator) if denominator > 0 else float("nan")


def classification_metrics(
    y_true: Sequence[int], y_pred: Sequence[int], label_names: Sequence[str]
) -> dict[str, float]:
    """``ua``, ``wa``, ``macro_f1`` and ``f1_<label>`` for every label.

    Classes absent from ``y_true`` do not count towards UA or macro-F1 (sklearn's balanced
    accuracy already ignores them; macro-F1 is taken over the labels present in y_true).
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    present = sorted(set(y_true.tolist()))
    result = {
        "ua": float(balanced_accuracy_score(y_true, y_pred)),
        "wa": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
    }
    per_class = f1_score(y_true, y_pred, labels=list(range(len(label_names))), average=None, zero_division=0)
    for name, value in zip(label_names, per_class, strict=True):
        result[f"f1_{name}"] = float(value)
    return result


def regression_metrics(prediction, target, names: Sequence[str] = ("valence", "arousal")) -> dict[str, float]:
    """``ccc_<name>``, ``mse_<name>`` and ``r2_<name>`` for each column of ``(N, D)`` arrays."""
    prediction = np.asarray(prediction, dtype=np.float64).reshape(len(prediction), -1)
    target = np.asarray(target, dtype=np.float64).reshape(len(target), -1)
    result = {}
    for d, name in enumerate(names):
        x, y = prediction[:, d], target[:, d]
        keep = np.isfinite(x) & np.isfinite(y)
        result[f"ccc_{name}"] = ccc(x, y)
        result[f"mse_{name}"] = float(np.mean((x[keep] - y[keep]) ** 2)) if keep.any() else float("nan")
        result[f"r2_{name}"] = float(r2_score(y[keep], x[keep])) if keep.sum() >= 2 else float("nan")
    return result


def plot_confusion_matrix(
    y_true: Sequence[int],
    y_pred: Sequence[int],
    label_names: Sequence[str],
    path: str | os.PathLike | None = None,
    *,
    title: str = "",
    ax=None,
):
    """Row-normalised confusion matrix (recall per true class) with counts; saved when ``path`` is given."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = confusion_matrix(y_true, y_pred, labels=list(range(len(label_names))))
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    own_figure = ax is None
    if own_figure:
        fig, ax = plt.subplots(figsize=(1.0 + 0.75 * len(label_names), 0.8 + 0.7 * len(label_names)))
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(label_names)), label_names, rotation=45, ha="right")
    ax.set_yticks(range(len(label_names)), label_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(label_names)):
        for j in range(len(label_names)):
            if counts[i, j]:
                colour = "white" if rates[i, j] > 0.5 else "black"
                ax.text(
                    j,
                    i,
                    f"{rates[i, j]:.2f}\n({counts[i, j]})",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color=colour,
                )
    ax.set_title(title or f"UA {balanced_accuracy_score(y_true, y_pred):.3f}")
    if own_figure:
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="recall")
        fig.tight_layout()
        if path is not None:
            fig.savefig(path, dpi=120)
        plt.close(fig)
    return counts


def plot_valence_arousal(
    prediction, target, label_ids, label_names, path: str | os.PathLike, *, title: str = ""
) -> None:
    """Predicted points on the valence/arousal plane, coloured by true emotion, with target centres."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    prediction = np.asarray(prediction)
    target = np.asarray(target)
    label_ids = np.asarray(label_ids)
    fig, ax = plt.subplots(figsize=(6, 6))
    colours = plt.get_cmap("tab10")
    for k, name in enumerate(label_names):
        mask = label_ids == k
        if not mask.any():
            continue
        ax.scatter(
            prediction[mask, 0], prediction[mask, 1], s=10, alpha=0.5, color=colours(k % 10), label=name
        )
        centre = np.nanmean(target[mask], axis=0)
        ax.scatter(*centre, marker="X", s=120, color=colours(k % 10), edgecolor="black")
    ax.axhline(0, color="grey", lw=0.5)
    ax.axvline(0, color="grey", lw=0.5)
    ax.set(xlim=(-1.05, 1.05), ylim=(-1.05, 1.05), xlabel="valence", ylabel="arousal", aspect="equal")
    ax.set_title(title or "valence/arousal: predictions (dots) and targets (X)")
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def headline(metrics: dict) -> str:
    """``ua 0.801, wa 0.795, ...``: the headline metrics of a dict with prefixed keys (``eval_ua``, ...)."""
    return ", ".join(
        f"{k.split('_', 1)[1]} {v:.3f}" for k, v in metrics.items() if k.split("_", 1)[-1] in HEADLINE_METRICS
    )


def summarize_folds(results: Sequence[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Mean and (population) standard deviation of every numeric metric over folds."""
    keys = sorted({k for r in results for k, v in r.items() if isinstance(v, (int, float))})
    summary = {}
    for key in keys:
        values = np.array([r[key] for r in results if key in r], dtype=np.float64)
        summary[key] = {
            "mean": float(np.nanmean(values)) if np.isfinite(values).any() else float("nan"),
            "std": float(np.nanstd(values)) if np.isfinite(values).any() else float("nan"),
            "n": int(values.size),
        }
    return summary


def format_summary_markdown(
    summary: dict[str, dict[str, float]], title: str = "", keys: Sequence[str] | None = None
) -> str:
    """A Markdown table of ``mean ± std`` for each metric."""
    keys = list(keys) if keys else list(summary)
    lines = [f"## {title}", ""] if title else []
    lines += ["| metric | mean ± std | folds |", "|---|---|---|"]
    for key in keys:
        if key in summary:
            s = summary[key]
            lines.append(f"| {key} | {s['mean']:.3f} ± {s['std']:.3f} | {s['n']} |")
    return "\n".join(lines) + "\n"


def write_summary(
    results: Sequence[dict[str, float]], output_dir: str | os.PathLike, title: str = ""
) -> dict:
    """Write ``cv_summary.json`` (per fold + mean/std) and ``cv_summary.md``; returns the summary."""
    summary = summarize_folds(results)
    with open(os.path.join(output_dir, "cv_summary.json"), "w") as handle:
        json.dump({"folds": list(results), "summary": summary}, handle, indent=2)
    with open(os.path.join(output_dir, "cv_summary.md"), "w") as handle:
        handle.write(format_summary_markdown(summary, title))
    return summary
