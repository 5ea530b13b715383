"""The unified label set.

Every corpus maps onto RAVDESS's eight names; a model's ``id2label`` holds only the names
its training data has, in this order.
"""

from __future__ import annotations

# RAVDESS emotion codes 01-08, in code order.
EMOTIONS: tuple[str, ...] = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")
RAVDESS_EMOTION_CODES: dict[str, str] = {f"{i + 1:02d}": name for i, name in enumerate(EMOTIONS)}

# CREMA-D's six intended emotions (file-name codes) and the single letters of its
# crowd-perception table (summaryTable.csv, VoiceVote).
CREMA_D_EMOTIONS: dict[str, str] = {
    "ANG": "angry",
    "DIS": "disgust",
    "FEA": "fearful",
    "HAP": "happy",
    "NEU": "neutral",
    "SAD": "sad",
}
CREMA_D_VOTE_LETTERS: dict[str, str] = {
    "A": "angry",
    "D": "disgust",
    "F": "fearful",
    "H": "happy",
    "N": "neutral",
    "S": "sad",
}

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
