"""What the recognizer answers: :class:`EmotionPrediction`, built from a scorer's numbers or a head's."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: ``EmotionPrediction.mode`` of an answer judged on its own audio alone.
CLIP_MODE = "clip"
#: ``EmotionPrediction.mode`` of an answer judged against the other clips of its speaker.
SPEAKER_ADAPTIVE_MODE = "speaker_adaptive"


@dataclass
class EmotionPrediction:
    """What the model heard in a clip, a window, a speech segment or a whole recording.

    Attributes:
        probabilities: every emotion's probability, in the model's label order; empty when silent.
        label: the most probable emotion, or ``None`` for silence.
        confidence: the probability of ``label`` (``None`` for silence).
        valence: predicted valence in [-1, 1] (``None`` for silence or a model without it).
        arousal: predicted arousal in [-1, 1] (``None`` for silence or a model without it).
        silent: the audio is below the silence threshold (for a recording: every window is,
            or VAD found no speech).
        start: start time in seconds within the recording.
        end: end time in seconds within the recording.
        source: the file name, ``"<bytes>"`` or ``"<array>"``.
        timeline: per-window (or, with ``segment="vad"``, per-speech-segment) predictions when
            the audio was cut, else ``None``.
        mode: ``"clip"``: judged on this audio alone; ``"speaker_adaptive"``: judged against the
            other clips of the same speaker (it depends on them, and misleads when they all share
            one emotion).
    """

    probabilities: dict[str, float]
    label: str | None
    confidence: float | None
    valence: float | None
    arousal: float | None
    silent: bool = False
    start: float = 0.0
    end: float = 0.0
    source: str | None = None
    timeline: list[EmotionPrediction] | None = field(default=None, repr=False)
    mode: str = CLIP_MODE

    @property
    def duration(self) -> float:
        """Length of the scored audio in seconds."""
        return self.end - self.start

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (timeline entries as dicts too, without ``source``)."""
        result: dict[str, Any] = {
            "source": self.source,
            "label": self.label,
            "confidence": self.confidence,
            "valence": self.valence,
            "arousal": self.arousal,
            "silent": self.silent,
            "start": round(self.start, 4),
            "end": round(self.end, 4),
            "probabilities": dict(self.probabilities),
            "mode": self.mode,
        }
        if self.timeline is not None:
            timeline = []
            for item in self.timeline:
                entry = item.to_dict()
                entry.pop("source")
                entry.pop("timeline", None)
                timeline.append(entry)
            result["timeline"] = timeline
        return result


class RunningMean:
    """Weighted running mean of predictions, so a recording's summary needs no stored audio."""

    def __init__(self) -> None:
        self.weight = 0.0
        self.probabilities: np.ndarray | None = None
        self.valence_arousal: np.ndarray | None = None

    def add(self, probabilities: np.ndarray, valence_arousal: np.ndarray, weight: float = 1.0) -> None:
        if self.probabilities is None:
            self.probabilities = np.zeros_like(probabilities, dtype=np.float64)
            self.valence_arousal = np.zeros_like(valence_arousal, dtype=np.float64)
        self.probabilities += weight * probabilities
        self.valence_arousal += weight * valence_arousal
        self.weight += weight

    def mean(self) -> tuple[np.ndarray, np.ndarray]:
        return self.probabilities / self.weight, self.valence_arousal / self.weight


def scored_prediction(
    labels: Sequence[str],
    regression_targets: Sequence[str],
    probabilities: np.ndarray,
    regression: np.ndarray,
    *,
    start: float,
    end: float,
    source: str | None,
) -> EmotionPrediction:
    """A scorer's numbers for one piece of audio (``mode="clip"``)."""
    best = int(np.argmax(probabilities))
    values = {name: float(regression[i]) for i, name in enumerate(regression_targets)}
    return EmotionPrediction(
        probabilities={label: float(p) for label, p in zip(labels, probabilities, strict=True)},
        label=labels[best],
        confidence=float(probabilities[best]),
        valence=values.get("valence"),
        arousal=values.get("arousal"),
        start=start,
        end=end,
        source=source,
    )


def adaptive_prediction(
    labels: Sequence[str], probabilities: np.ndarray, *, start: float, end: float, source: str | None
) -> EmotionPrediction:
    """A speaker-adaptive head's probabilities for one clip or window: no valence/arousal, and it says its mode."""
    best = int(np.argmax(probabilities))
    return EmotionPrediction(
        probabilities={label: float(p) for label, p in zip(labels, probabilities, strict=True)},
        label=labels[best],
        confidence=float(probabilities[best]),
        valence=None,
        arousal=None,
        start=round(start, 4),
        end=round(end, 4),
        source=source,
        mode=SPEAKER_ADAPTIVE_MODE,
    )


def silent_prediction(
    *, start: float, end: float, source: str | None, mode: str = CLIP_MODE
) -> EmotionPrediction:
    """Audio below the silence threshold: marked, never labelled."""
    return EmotionPrediction(
        {}, None, None, None, None, silent=True, start=start, end=end, source=source, mode=mode
    )


__all__ = [
    "CLIP_MODE",
    "SPEAKER_ADAPTIVE_MODE",
    "EmotionPrediction",
    "RunningMean",
    "adaptive_prediction",
    "scored_prediction",
    "silent_prediction",
]
