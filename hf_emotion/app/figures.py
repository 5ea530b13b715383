"""The demo's figures: the valence/arousal plane with a prediction on it, and emotion over time."""

from __future__ import annotations

import matplotlib
import numpy as np

matplotlib.use("Agg")  # no display on a server
import matplotlib.pyplot as plt  # noqa: E402

from ..data.targets import CIRCUMPLEX  # noqa: E402
from ..serving.predictions import SPEAKER_ADAPTIVE_MODE, EmotionPrediction  # noqa: E402


def circumplex_figure(prediction: EmotionPrediction | None) -> plt.Figure:
    """The valence/arousal plane with the emotion anchors and the prediction as a point."""
    figure, axes = plt.subplots(figsize=(4.6, 4.6), dpi=100)
    axes.add_patch(plt.Circle((0, 0), 1.0, fill=False, color="0.8"))
    axes.axhline(0, color="0.85", linewidth=0.8)
    axes.axvline(0, color="0.85", linewidth=0.8)
    for name, (valence, arousal) in CIRCUMPLEX.items():
        axes.scatter(valence, arousal, s=18, color="0.55")
        axes.annotate(
            name, (valence, arousal), textcoords="offset points", xytext=(4, 4), fontsize=8, color="0.35"
        )
    if prediction is not None and prediction.valence is not None and prediction.arousal is not None:
        axes.scatter(
            prediction.valence, prediction.arousal, s=160, color="tab:red", edgecolor="black", zorder=5
        )
        axes.annotate(
            f"{prediction.label}\n({prediction.valence:+.2f}, {prediction.arousal:+.2f})",
            (prediction.valence, prediction.arousal), textcoords="offset points",
            xytext=(-70 if prediction.valence > 0.3 else 10, -26 if prediction.arousal > -0.6 else 14),
            fontsize=9, color="tab:red", zorder=6,
        )  # fmt: skip
    elif prediction is not None and prediction.silent:
        axes.text(0, -0.15, "silence", ha="center", color="0.4")
    elif prediction is not None and prediction.mode == SPEAKER_ADAPTIVE_MODE:
        axes.text(0, -0.8, "calibrated to your voice:\nno valence/arousal", ha="center", color="0.4")
    axes.set(xlim=(-1.1, 1.1), ylim=(-1.1, 1.1), xlabel="valence", ylabel="arousal", aspect="equal")
    axes.set_title("Circumplex (Russell)", fontsize=10)
    figure.tight_layout()
    plt.close(figure)  # gradio renders it; pyplot must not keep every figure alive
    return figure


def timeline_figure(
    prediction: EmotionPrediction, *, title: str = "Emotion over time (grey: silence)"
) -> plt.Figure:
    """Per-window emotion probabilities over time, with silent windows shaded."""
    labels = list(next((w.probabilities for w in prediction.timeline if not w.silent), {}))
    centers = [(w.start + w.end) / 2 for w in prediction.timeline]
    figure, (top, bottom) = plt.subplots(
        2, 1, figsize=(8, 4.2), dpi=100, sharex=True, gridspec_kw={"height_ratios": [3, 1.4]}
    )
    for label in labels:
        values = [w.probabilities.get(label, np.nan) for w in prediction.timeline]
        top.plot(centers, values, marker="o", markersize=3, label=label)
    for window in prediction.timeline:
        if window.silent:
            top.axvspan(window.start, window.end, color="0.9", zorder=0)
    top.set(ylabel="probability", ylim=(0, 1))
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    for name in ("valence", "arousal"):
        values = [np.nan if getattr(w, name) is None else getattr(w, name) for w in prediction.timeline]
        bottom.plot(centers, values, label=name)
    bottom.axhline(0, color="0.8", linewidth=0.8)
    bottom.set(xlabel="time (s)", ylim=(-1.05, 1.05))
    bottom.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    top.set_title(title, fontsize=10)
    figure.tight_layout()
    plt.close(figure)
    return figure
