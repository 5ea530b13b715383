"""EmoDB: ten German talkers, 7 emotions, labelled by file name.

Berlin Database of Emotional Speech. A file name such as ``03a01Fa.wav`` gives the talker (two
digits), the text (``a01``-``b10``), the emotion (a German initial) and the version. Boredom has
no unified label and is left out. No ratings: valence/arousal are the circumplex proxy. Not
downloadable here: fetch it from its own page and pass ``--data_dir``.
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

# German initials: Wut/Ärger, Langeweile, Ekel, Angst, Freude, Trauer, Neutral.
EMODB_EMOTIONS = {"W": "angry", "E": "disgust", "A": "fearful", "F": "happy", "T": "sad", "N": "neutral"}
EMODB_UNMAPPED = {"L": "boredom"}  # no unified label
EMODB_FEMALE = {"08", "09", "13", "14", "16"}  # the other five of its ten talkers are men

LICENCE = Licence(
    terms="free for research, see emodb.bilderbar.info (Burkhardt et al. 2005, doi:10.21437/Interspeech.2005-446)",
    name="research use",
)
SOURCE = "http://emodb.bilderbar.info/"

_EMODB_CLIP = re.compile(r"^(?P<speaker>\d{2})(?P<text>[ab]\d{2})(?P<emotion>[A-Z])(?P<version>[a-z])$")


def parse_emodb_name(path: str | os.PathLike) -> tuple[str, str]:
    """``(speaker, emotion letter)`` of an EmoDB file such as ``03a01Fa.wav``."""
    match = _EMODB_CLIP.match(Path(path).stem)
    if match is None:
        raise ValueError(
            f"{path}: not an EmoDB name (speaker 2 digits, text a01-b10, emotion letter, version)"
        )
    letter = match["emotion"]
    if letter not in EMODB_EMOTIONS and letter not in EMODB_UNMAPPED:
        raise ValueError(f"{path}: emotion letter {letter} is not one of W L E A F T N")
    return match["speaker"], letter


def load_emodb(data_dir: str | os.PathLike) -> datasets.Dataset:
    """Load EmoDB (Berlin Database of Emotional Speech): 10 German talkers, 7 emotions.

    Boredom (``L``) has no unified label and is left out (logged with its count).
    """
    rows, unparsed, dropped = [], [], Counter()
    for path in audio_files(data_dir):
        try:
            speaker, letter = parse_emodb_name(path)
        except ValueError:
            unparsed.append(str(path))
            continue
        if letter in EMODB_UNMAPPED:
            dropped[EMODB_UNMAPPED[letter]] += 1
            continue
        gender = "female" if speaker in EMODB_FEMALE else "male"
        rows.append(acted_row(path, EMODB_EMOTIONS[letter], speaker, gender, "emodb"))
    return finish_dataset(rows, unparsed, dropped, f"EmoDB {data_dir}")


def load_by_name(name: str, data_dir: str, options: Mapping[str, Any]) -> datasets.Dataset:
    return load_emodb(data_dir)


#: Its line in the registry.
REGISTRY_ENTRIES = (
    Corpus(
        "emodb",
        corpus_id="emodb",
        title="EmoDB",
        licence=LICENCE,
        source=SOURCE,
        load=load_by_name,
        language="de",
    ),
)
