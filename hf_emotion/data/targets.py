"""Valence/arousal proxy targets for corpora that only carry categorical labels.

RAVDESS and CREMA-D have no dimensional annotation. Following the common practice of
placing categorical emotions on Russell's circumplex, each emotion gets a fixed
(valence, arousal) coordinate and the recorded intensity scales the arousal. These are
*proxy* targets: they teach the regression head where an emotion lies on the plane, not
how a listener rated that particular clip. A dataset with real valence/arousal columns
uses those instead (see ``hf_emotion.corpora.generic.load_audio_dataset``).

Coordinates: pleasure (valence) and arousal ratings of emotion terms on a -1..1 scale from
Russell, J. A. & Mehrabian, A. (1977), "Evidence for a three-factor theory of emotions",
Journal of Research in Personality 11(3): 273-294 (the table reused by Gebhard's ALMA model,
AAMAS 2005, e.g. anger -0.51/0.59, fear -0.64/0.60). "calm" takes the term "relaxed";
"neutral" is the origin.
"""

from __future__ import annotations

import numpy as np

# emotion -> (valence, arousal) at normal intensity
CIRCUMPLEX: dict[str, tuple[float, float]] = {
    "neutral": (0.00, 0.00),
    "calm": (0.68, -0.46),
    "happy": (0.81, 0.51),
    "sad": (-0.63, -0.27),
    "angry": (-0.51, 0.59),
    "fearful": (-0.64, 0.60),
    "disgust": (-0.60, 0.35),
    "surprised": (0.40, 0.67),
}

# intensity in [0, 1]; 0.5 is a corpus's "normal" and leaves the coordinate unchanged.
NORMAL_INTENSITY = 0.5


def valence_arousal_targets(emotion: str, intensity: float = NORMAL_INTENSITY) -> tuple[float, float]:
    """The proxy (valence, arousal) of an emotion spoken at ``intensity``.

    Arousal is scaled by ``0.5 + intensity`` (×1 at normal, ×1.5 at strong, ×0.75 at low),
    then clipped to [-1, 1]; valence is the emotion's coordinate.

    Args:
        emotion: a unified label name (see ``hf_emotion.data.labels.EMOTIONS``).
        intensity: recorded or perceived intensity in [0, 1].

    Raises:
        KeyError: for an emotion with no coordinate, naming the known ones.

    Example:
        >>> valence_arousal_targets("angry", 1.0)
        (-0.51, 0.885)
    """
    if emotion not in CIRCUMPLEX:
        raise KeyError(f"no valence/arousal coordinate for emotion {emotion!r}; known: {sorted(CIRCUMPLEX)}")
    if not 0.0 <= intensity <= 1.0:
        raise ValueError(f"intensity must lie in [0, 1], got {intensity}")
    valence, arousal = CIRCUMPLEX[emotion]
    arousal = float(np.clip(arousal * (0.5 + intensity), -1.0, 1.0))
    return float(valence), round(arousal, 6)
