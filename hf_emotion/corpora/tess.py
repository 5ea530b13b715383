"""TESS: two women, 200 words each in 7 emotions, labelled by file name.

Toronto Emotional Speech Set. A file name ``<OAF|YAF>_<word>_<emotion>.wav`` gives the talker
(OAF aged 64, YAF aged 26) and the emotion. No ratings: valence/arousal are the circumplex proxy.
Not downloadable here: fetch it from its Borealis page and pass ``--data_dir``.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import datasets

from .corpus import Corpus, Licence
from .dataset import acted_row, audio_files, finish_dataset

TESS_EMOTIONS = {
    "angry": "angry",
    "disgust": "disgust",
    "fear": "fearful",
    "happy": "happy",
    "neutral": "neutral",
    "ps": "surprised",  # "pleasant surprise"
    "sad": "sad",
}
# Both TESS talkers are women: OAF aged 64, YAF aged 26. A few official files say "OA_".
TESS_SPEAKERS = {"OAF": "OAF", "OA": "OAF", "YAF": "YAF"}

LICENCE = Licence(
    terms="CC BY-NC-ND 4.0 (Dupuis & Pichora-Fuller 2010, doi:10.5683/SP2/E8H2MF)",
    name="CC BY-NC-ND 4.0",
)
SOURCE = "https://doi.org/10.5683/SP2/E8H2MF"


def parse_tess_name(path: str | os.PathLike) -> tuple[str, str]:
    """``(speaker, emotion)`` of a TESS file ``<OAF|YAF>_<word>_<emotion>.wav``.

    Raises:
        ValueError: naming the file and the field that does not fit.
    """
    fields = Path(path).stem.split("_")
    if len(fields) != 3 or fields[0].upper() not in TESS_SPEAKERS:
        raise ValueError(f"{path}: not a TESS name (expected <OAF|YAF>_<word>_<emotion>)")
    emotion = fields[2].lower()
    if emotion not in TESS_EMOTIONS:
        raise ValueError(f"{path}: emotion {fields[2]!r} is not one of {sorted(TESS_EMOTIONS)}")
    return TESS_SPEAKERS[fields[0].upper()], TESS_EMOTIONS[emotion]


def load_tess(data_dir: str | os.PathLike) -> datasets.Dataset:
    """Load the Toronto Emotional Speech Set: 2 women, 200 words each in 7 emotions."""
    rows, unparsed = [], []
    for path in audio_files(data_dir):
        try:
            speaker, emotion = parse_tess_name(path)
        except ValueError:
            unparsed.append(str(path))
            continue
        rows.append(acted_row(path, emotion, speaker, "female", "tess"))
    return finish_dataset(rows, unparsed, Counter(), f"TESS {data_dir}")


def load_by_name(name: str, data_dir: str, options: Mapping[str, Any]) -> datasets.Dataset:
    return load_tess(data_dir)


#: Its line in the registry.
REGISTRY_ENTRIES = (
    Corpus("tess", corpus_id="tess", title="TESS", licence=LICENCE, source=SOURCE, load=load_by_name),
)
