"""Metrics, plots and fold summaries shared by fine-tuning and the baselines.

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


def speaker_normalize_scores(scores, speakers: Sequence[str]) -> np.ndarray:
    """Centre each speaker's scores on that speaker's own mean (transductive).

    Voices differ more than emotions do: one speaker's clips all lean towards the classes
    their voice resembles. When the speaker of every test clip is known and each speaker
    contributes several clips, subtracting the speaker's mean log-probability (or any score)
    removes that lean. It uses the test speakers' other clips, so numbers obtained with it
    are reported separately and labelled transductive.

    Args:
        scores: ``(N, C)`` log-probabilities or logits, or ``(N, D)`` regression outputs.
        speakers: the speaker of each row.
    """
    return standardize_per_speaker(scores, speakers, scale=False)


def standardize_per_speaker(
    features, speakers: Sequence[str], scale: bool = True, eps: float = 1e-6
) -> np.ndarray:
    """Z-score every feature dimension on each speaker's own clips (transductive for unseen speakers).

    Args:
        features: ``(N, ...)`` one row per clip.
        speakers: the speaker of each row.
        scale: divide by the speaker's standard deviation too (``False``: only centre on the speaker's mean).
    """
    features = np.asarray(features, dtype=np.float64)
    speakers = np.asarray(speakers)
    out = np.empty_like(features)
    for speaker in np.unique(speakers):
        rows = speakers == speaker
        out[rows] = features[rows] - features[rows].mean(axis=0, keepdims=True)
        if scale:
            out[rows] /= features[rows].std(axis=0, keepdims=True) + eps
    return out


SPEAKER_PROBE_CS = (0.001, 0.01, 0.1, 1.0)


def speaker_normalized_probe(
    features: dict[str, np.ndarray],
    labels: dict[str, Sequence[int]],
    speakers: dict[str, Sequence[str]],
    label_names: Sequence[str],
    Cs: Sequence[float] = SPEAKER_PROBE_CS,
    per_speaker: bool = True,
) -> tuple[dict[str, float], np.ndarray]:
    """Logistic regression on per-speaker standardised encoder features (transductive evaluation).

    Each of ``train``, ``validation`` and ``test`` maps to ``(N, L, H)`` pooled hidden states (every
    layer), their labels and speakers. Every speaker's features are standardised on that speaker's
    own clips, so the test speakers' unlabelled clips are used as a whole: the result needs the
    speaker of each test clip and several clips per speaker, and is reported apart from the
    clip-by-clip numbers. The regularisation ``C`` is chosen on the validation speakers, then the
    classifier is refitted on training + validation speakers; the test speakers choose nothing.

    With ``per_speaker=False`` the same classifier sees features standardised with the training
    clips' statistics instead (no speaker information at test time, clip by clip): the ablation that
    tells how much of the result comes from the speaker normalisation.

    Returns:
        ``(metrics, test_predictions)``; metric names start ``spkprobe`` (``lrprobe`` without
        per-speaker normalisation): ``validation_spkprobe_ua``, ``spkprobe_C``,
        ``eval_spkprobe_<ua|wa|macro_f1|f1_label>``.
    """
    from sklearn.linear_model import LogisticRegression

    parts = ("train", "validation", "test")
    x = {
        part: np.asarray(features[part], dtype=np.float64).reshape(len(features[part]), -1) for part in parts
    }
    y = {part: np.asarray(labels[part]) for part in parts}
    if per_speaker:
        x = {part: standardize_per_speaker(x[part], speakers[part]) for part in parts}

    def fit(train_x: np.ndarray, train_y: np.ndarray, c: float):
        mean, std = train_x.mean(axis=0), train_x.std(axis=0) + 1e-6
        classifier = LogisticRegression(C=c, max_iter=2000).fit((train_x - mean) / std, train_y)
        return lambda z: classifier.predict((z - mean) / std)

    best_ua, best_c = -1.0, Cs[0]
    for c in Cs:
        predict = fit(x["train"], y["train"], c)
        ua = classification_metrics(y["validation"], predict(x["validation"]), label_names)["ua"]
        if ua > best_ua:
            best_ua, best_c = ua, c
    predict = fit(
        np.concatenate([x["train"], x["validation"]]), np.concatenate([y["train"], y["validation"]]), best_c
    )
    predictions = predict(x["test"])
    name = "spkprobe" if per_speaker else "lrprobe"
    metrics = {f"validation_{name}_ua": best_ua, f"{name}_C": float(best_c)}
    metrics |= {
        f"eval_{name}_{k}": v for k, v in classification_metrics(y["test"], predictions, label_names).items()
    }
    return metrics, predictions


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
