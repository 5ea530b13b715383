"""An ensemble as one scorer: the weighted mean of several scorers' answers."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hf_emotion.serving.scorers import Scorer


class MeanScorer:
    """The weighted mean of several scorers' answers: probabilities and valence/arousal.

    Models trained apart err apart; averaging their probabilities is the plainest way to trade
    inference time for accuracy (on RAVDESS speech, the fine-tuned Whisper tiny.en and base
    together score higher than either; see BENCHMARKS.md). Every member must have the same
    labels in the same order, the same regression targets and the same sampling rate; each
    scores the same signals its own way (its own feature extractor, device, dtype or runtime).

    Args:
        members: the scorers (at least two).
        weights: one non-negative weight per member (normalised to sum 1); default: equal.
    """

    def __init__(self, members: Sequence[Scorer], *, weights: Sequence[float] | None = None) -> None:
        members = list(members)
        if len(members) < 2:
            raise ValueError(f"an ensemble needs at least two models, got {len(members)}")
        first = members[0]
        for index, member in enumerate(members[1:], start=2):
            for what in ("labels", "regression_targets", "sampling_rate"):
                if getattr(member, what) != getattr(first, what):
                    raise ValueError(
                        f"model {index} of the ensemble has {what} {getattr(member, what)}, model 1 has "
                        f"{getattr(first, what)}: only models with the same {what} can be averaged"
                    )
        weights = np.ones(len(members)) if weights is None else np.asarray(weights, dtype=np.float64)
        if weights.shape != (len(members),) or (weights < 0).any() or not weights.sum() > 0:
            raise ValueError(
                f"weights must be {len(members)} non-negative numbers, not all 0; got {weights.tolist()}"
            )
        self.members = members
        self.weights = weights / weights.sum()
        self.labels = first.labels
        self.regression_targets = first.regression_targets
        self.sampling_rate = first.sampling_rate
        self.max_clip_seconds = min(member.max_clip_seconds for member in members)
        margins = [
            m for m in (getattr(member, "speech_margin_seconds", None) for member in members) if m is not None
        ]
        self.speech_margin_seconds = min(margins) if margins else None

    def score(self, signals: Sequence[np.ndarray], *, batch_size: int = 16) -> tuple[np.ndarray, np.ndarray]:
        probabilities = np.zeros((len(signals), len(self.labels)), dtype=np.float64)
        regression = np.zeros((len(signals), len(self.regression_targets)), dtype=np.float64)
        for weight, member in zip(self.weights, self.members, strict=True):
            p, r = member.score(signals, batch_size=batch_size)
            probabilities += weight * p
            regression += weight * r
        return probabilities.astype(np.float32), regression.astype(np.float32)


__all__ = ["MeanScorer"]
