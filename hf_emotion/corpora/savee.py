"""SAVEE: four men, 480 British English clips in 7 emotions, labelled by folder and file name.

Surrey Audio-Visual Expressed Emotion. The official layout is ``AudioData/<talker>/<code><nn>.wav``
(``DC/a01.wav``); some re-distributions flatten it to ``DC_a01.wav``. No ratings: valence/arousal
are the circumplex proxy. Not downloadable here: it is given out after registration.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import datasets

from .corpus import Corpus, Licence
from .dataset import acted_row, audio_files, finish_dataset

SAVEE_EMOTIONS = {
    "a": "angry",
    "d": "disgust",
    "f": "fearful",
    "h": "happy",
    "n": "neutral",
    "sa": "sad",
    "su": "surprised",
}
SAVEE_SPEAKERS = ("DC", "JE", "JK", "KL")  # four male talkers

LICENCE = Licence(
    terms="free for academic research, registration at kahlan.eps.surrey.ac.uk/savee (Haq & Jackson 2009)",
    name="research use, by registration",
)
SOURCE = "http://kahlan.eps.surrey.ac.uk/savee/"

_SAVEE_CLIP = re.compile(r"^(?:(?P<speaker>[A-Z]{2})_)?(?P<code>sa|su|[adfhn])(?P<number>\d{2})$")


def parse_savee_name(path: str | os.PathLike) -> tuple[str, str]:
    """``(speaker, emotion)`` of a SAVEE clip ``<DC|JE|JK|KL>/<code><nn>.wav``.

    The talker is the parent folder (the official ``AudioData/DC/a01.wav``) or a name
    prefix (``DC_a01.wav``, as some re-distributions flatten it).
    """
    path = Path(path)
    match = _SAVEE_CLIP.match(path.stem)
    if match is None:
        raise ValueError(
            f"{path}: not a SAVEE name (expected <code><nn>, code one of {sorted(SAVEE_EMOTIONS)})"
        )
    speaker = match["speaker"] or path.parent.name.upper()
    if speaker not in SAVEE_SPEAKERS:
        raise ValueError(f"{path}: talker {speaker!r} is not one of {SAVEE_SPEAKERS} (folder or name prefix)")
    return speaker, SAVEE_EMOTIONS[match["code"]]


def load_savee(data_dir: str | os.PathLike) -> datasets.Dataset:
    """Load SAVEE (Surrey Audio-Visual Expressed Emotion): 4 men, 480 British English clips."""
    rows, unparsed = [], []
    for path in audio_files(data_dir):
        try:
            speaker, emotion = parse_savee_name(path)
        except ValueError:
            unparsed.append(str(path))
            continue
        rows.append(acted_row(path, emotion, speaker, "male", "savee"))
    return finish_dataset(rows, unparsed, Counter(), f"SAVEE {data_dir}")


def load_by_name(name: str, data_dir: str, options: Mapping[str, Any]) -> datasets.Dataset:
    return load_savee(data_dir)


#: Its line in the registry.
REGISTRY_ENTRIES = (
    Corpus("savee", corpus_id="savee", title="SAVEE", licence=LICENCE, source=SOURCE, load=load_by_name),
)
