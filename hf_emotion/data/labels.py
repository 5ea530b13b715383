"""The unified label set.

Every corpus maps onto RAVDESS's eight names; a model's ``id2label`` holds only the names
its training data has, in this order.
"""

from __future__ import annotations

# RAVDESS's emotion names, in the order of its codes 01-08 (see hf_emotion/corpora/ravdess.py).
EMOTIONS: tuple[str, ...] = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")

# Common spellings in other datasets, so a Hub dataset's labels unify too.
ALIASES: dict[str, str] = {
    "anger": "angry",
    "ang": "angry",
    "mad": "angry",
    "happiness": "happy",
    "hap": "happy",
    "joy": "happy",
    "sadness": "sad",
    "fear": "fearful",
    "afraid": "fearful",
    "fea": "fearful",
    "disgusted": "disgust",
    "dis": "disgust",
    "surprise": "surprised",
    "sur": "surprised",
    "neu": "neutral",
    "calmness": "calm",
}


def normalize_label(name: str) -> str:
    """Map a label spelling onto the unified names; unknown names are returned lower-cased."""
    key = str(name).strip().lower()
    return ALIASES.get(key, key)


def ordered_labels(names) -> list[str]:
    """The given label names in the canonical order (unknown names after, sorted)."""
    present = set(names)
    known = [name for name in EMOTIONS if name in present]
    return known + sorted(present - set(EMOTIONS))
