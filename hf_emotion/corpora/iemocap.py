"""IEMOCAP: five sessions of two talkers, labelled in tables beside the audio.

Interactive Emotional Dyadic Motion Capture database. ``dialog/EmoEvaluation/*.txt`` gives each
turn the raters' majority category and their mean valence, activation and dominance (1-5); the
turn's audio is ``sentences/wav/<dialog>/<turn>.wav``. ``--dataset iemocap`` is the usual
4-class protocol (excited counted as happy); ``iemocap_all`` keeps every category with a unified
label. Valence/arousal are the raters' own, rescaled to [-1, 1]. Not downloadable here: USC SAIL
gives it out under a release agreement.
"""

from __future__ import annotations

import logging
import os
import re
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import datasets

from ..data.targets import NORMAL_INTENSITY
from ..errors import MissingInputError
from .corpus import Corpus, Licence
from .dataset import audio_files, finish_dataset, rescale_rating

logger = logging.getLogger(__name__)

IEMOCAP_EMOTIONS = {
    "ang": "angry",
    "hap": "happy",
    "neu": "neutral",
    "sad": "sad",
    "fea": "fearful",
    "dis": "disgust",
    "sur": "surprised",
}
IEMOCAP_FOUR = ("angry", "happy", "neutral", "sad")  # the cross-corpus literature's four classes

LICENCE = Licence(
    terms="USC SAIL release agreement, research only (Busso et al. 2008, doi:10.1007/s10579-008-9076-6)",
    name="USC SAIL release agreement",
)
SOURCE = "https://sail.usc.edu/iemocap/"

# "[6.2901 - 8.2357]	Ses01F_impro01_F000	neu	[2.5000, 2.5000, 2.5000]" (valence, activation, dominance)
_IEMOCAP_TURN = re.compile(
    r"^\[[\d.]+ - [\d.]+\]\s+(?P<turn>Ses\d{2}[FM]_\S+)\s+(?P<label>\w+)\s+"
    r"\[(?P<val>[\d.]+),\s*(?P<act>[\d.]+),\s*(?P<dom>[\d.]+)\]"
)


def parse_iemocap_evaluation(path: str | os.PathLike) -> dict[str, tuple[str, float, float, float]]:
    """``{turn name: (category, valence, activation, dominance)}`` from one EmoEvaluation file.

    The category is the raters' majority (``xxx`` where there is none); the dimensions are
    the evaluators' mean on IEMOCAP's 1-5 scales.
    """
    turns = {}
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            match = _IEMOCAP_TURN.match(line.strip())
            if match:
                turns[match["turn"]] = (
                    match["label"],
                    float(match["val"]),
                    float(match["act"]),
                    float(match["dom"]),
                )
    return turns


def iemocap_speaker(turn: str) -> tuple[str, str]:
    """``("iemocap-01F", "female")`` for ``Ses01F_impro01_F000``: session, then the talker's gender.

    The letter after ``Ses01`` names who wore the motion-capture markers; the talker of a
    turn is the letter that starts its last field.
    """
    session, talker = turn[3:5], turn.rsplit("_", 1)[-1][0]
    if talker not in "FM":
        raise ValueError(f"IEMOCAP turn {turn!r}: last field does not start with F or M")
    return f"iemocap-{session}{talker}", "female" if talker == "F" else "male"


def load_iemocap(
    data_dir: str | os.PathLike, *, four_class: bool = True, merge_excited: bool = True
) -> datasets.Dataset:
    """Load IEMOCAP (Session1-5) with labels from ``dialog/EmoEvaluation/*.txt``.

    Args:
        data_dir: the release folder (``IEMOCAP_full_release``); turn audio
            (``sentences/wav/<dialog>/<turn>.wav``) is found by name anywhere below it.
        four_class: keep only angry, happy, neutral and sad (the usual 4-class protocol);
            otherwise every category with a unified label (adds fearful, disgust, surprised).
        merge_excited: count ``exc`` (excited) as happy, as the usual protocol does;
            otherwise excited turns are left out.

    Speakers are session + gender (``iemocap-01F``): ten talkers, one man and one woman a
    session. Valence/arousal are the raters' mean, 1-5 rescaled to [-1, 1].
    """
    root = Path(data_dir)
    audio = {path.stem: path for path in audio_files(root) if not path.name.startswith("._")}
    evaluations = sorted(p for p in root.rglob("EmoEvaluation/*.txt") if not p.name.startswith("._"))
    if not evaluations:
        raise MissingInputError(f"{root}: no dialog/EmoEvaluation/*.txt label files below it; is it IEMOCAP?")
    mapping = dict(IEMOCAP_EMOTIONS, **({"exc": "happy"} if merge_excited else {}))
    rows, dropped, no_audio = [], Counter(), []
    for evaluation in evaluations:
        for turn, (label, val, act, _dom) in parse_iemocap_evaluation(evaluation).items():
            emotion = mapping.get(label)
            if emotion is None or (four_class and emotion not in IEMOCAP_FOUR):
                dropped[label] += 1
                continue
            if turn not in audio:
                no_audio.append(turn)
                continue
            speaker, gender = iemocap_speaker(turn)
            rows.append(
                {
                    "audio": str(audio[turn]),
                    "emotion": emotion,
                    "speaker": speaker,
                    "gender": gender,
                    "corpus": "iemocap",
                    "channel": "speech",
                    "intensity": NORMAL_INTENSITY,
                    "valence": rescale_rating(val, 1.0, 5.0),
                    "arousal": rescale_rating(act, 1.0, 5.0),
                }
            )
    if no_audio:
        logger.warning(
            "IEMOCAP %s: %d labelled turns have no audio file (e.g. %s)", root, len(no_audio), no_audio[0]
        )
    return finish_dataset(rows, [], dropped, f"IEMOCAP {root} ({'4-class' if four_class else 'all classes'})")


def load_by_name(name: str, data_dir: str, options: Mapping[str, Any]) -> datasets.Dataset:
    """``iemocap`` (4 classes, excited as happy) or ``iemocap_all`` (every category with a unified label)."""
    return load_iemocap(data_dir, four_class=name != "iemocap_all")


#: Its line in the registry.
REGISTRY_ENTRIES = (
    Corpus(
        "iemocap",
        corpus_id="iemocap",
        title="IEMOCAP",
        licence=LICENCE,
        source=SOURCE,
        load=load_by_name,
        also_reads=lambda name: name == "iemocap_all",
    ),
)
