"""More emotion corpora, read by their own file-name conventions and label tables.

TESS, SAVEE and EmoDB carry their labels in each file's name; IEMOCAP and MSP-Podcast in
label tables next to the audio. Each loader returns the standard columns of
``hf_emotion.corpora.loading`` (see docs/ARCHITECTURE.md), maps the corpus's categories onto the
unified labels (``hf_emotion.data.labels``) and logs, by category and count, every clip it
leaves out. Acted corpora without dimensional ratings get the circumplex proxy
valence/arousal (``hf_emotion.data.targets``); IEMOCAP and MSP-Podcast get their raters' own,
rescaled to [-1, 1]. Audio may be WAV or FLAC in any folder layout below ``data_dir``.
"""

from __future__ import annotations

import csv
import logging
import os
import re
from collections import Counter
from pathlib import Path

import datasets

from ..data.targets import NORMAL_INTENSITY, valence_arousal_targets
from ..errors import ConfigurationError, MissingInputError
from .loading import _audio_files, _report_unparsed, _to_dataset

logger = logging.getLogger(__name__)


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

# German initials: Wut/Ärger, Langeweile, Ekel, Angst, Freude, Trauer, Neutral.
EMODB_EMOTIONS = {"W": "angry", "E": "disgust", "A": "fearful", "F": "happy", "T": "sad", "N": "neutral"}
EMODB_UNMAPPED = {"L": "boredom"}  # no unified label
EMODB_FEMALE = {"08", "09", "13", "14", "16"}  # the other five of its ten talkers are men

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

MSP_PODCAST_EMOTIONS = {
    "A": "angry",
    "S": "sad",
    "H": "happy",
    "U": "surprised",
    "F": "fearful",
    "D": "disgust",
    "N": "neutral",
}
MSP_PODCAST_UNMAPPED = {"C": "contempt", "O": "other", "X": "no agreement"}
MSP_PODCAST_PARTITIONS = ("Train", "Development", "Test1", "Test2", "Test3")


def _log_dropped(what: str, dropped: Counter) -> None:
    if dropped:
        listed = ", ".join(f"{n} {name}" for name, n in dropped.most_common())
        logger.warning("%s: left out %d clips with no unified label: %s", what, sum(dropped.values()), listed)


def _acted_row(path: Path, emotion: str, speaker: str, gender: str, corpus: str) -> dict:
    valence, arousal = valence_arousal_targets(emotion, NORMAL_INTENSITY)
    return {
        "audio": str(path),
        "emotion": emotion,
        "speaker": f"{corpus}-{speaker}",
        "gender": gender,
        "corpus": corpus,
        "channel": "speech",
        "intensity": NORMAL_INTENSITY,
        "valence": valence,
        "arousal": arousal,
    }


def _finish(rows: list[dict], unparsed: list[str], dropped: Counter, what: str) -> datasets.Dataset:
    _report_unparsed(unparsed, what)
    _log_dropped(what, dropped)
    logger.info("%s: %d clips, %d speakers", what, len(rows), len({row["speaker"] for row in rows}))
    return _to_dataset(rows, what)


# --------------------------------------------------------------------------- TESS


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
    for path in _audio_files(data_dir):
        try:
            speaker, emotion = parse_tess_name(path)
        except ValueError:
            unparsed.append(str(path))
            continue
        rows.append(_acted_row(path, emotion, speaker, "female", "tess"))
    return _finish(rows, unparsed, Counter(), f"TESS {data_dir}")


# --------------------------------------------------------------------------- SAVEE

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
    for path in _audio_files(data_dir):
        try:
            speaker, emotion = parse_savee_name(path)
        except ValueError:
            unparsed.append(str(path))
            continue
        rows.append(_acted_row(path, emotion, speaker, "male", "savee"))
    return _finish(rows, unparsed, Counter(), f"SAVEE {data_dir}")


# --------------------------------------------------------------------------- EmoDB

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
    for path in _audio_files(data_dir):
        try:
            speaker, letter = parse_emodb_name(path)
        except ValueError:
            unparsed.append(str(path))
            continue
        if letter in EMODB_UNMAPPED:
            dropped[EMODB_UNMAPPED[letter]] += 1
            continue
        gender = "female" if speaker in EMODB_FEMALE else "male"
        rows.append(_acted_row(path, EMODB_EMOTIONS[letter], speaker, gender, "emodb"))
    return _finish(rows, unparsed, dropped, f"EmoDB {data_dir}")


# --------------------------------------------------------------------------- IEMOCAP

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


def _scale(value: float, low: float, high: float) -> float:
    """A rating on ``[low, high]`` → [-1, 1]."""
    return max(-1.0, min(1.0, 2.0 * (value - low) / (high - low) - 1.0))


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
    audio = {path.stem: path for path in _audio_files(root) if not path.name.startswith("._")}
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
                    "valence": _scale(val, 1.0, 5.0),
                    "arousal": _scale(act, 1.0, 5.0),
                }
            )
    if no_audio:
        logger.warning(
            "IEMOCAP %s: %d labelled turns have no audio file (e.g. %s)", root, len(no_audio), no_audio[0]
        )
    return _finish(rows, [], dropped, f"IEMOCAP {root} ({'4-class' if four_class else 'all classes'})")


# --------------------------------------------------------------------------- MSP-Podcast


def load_msp_podcast(
    data_dir: str | os.PathLike, *, partition: str | None = None, dominance: bool = False
) -> datasets.Dataset:
    """Load MSP-Podcast from ``Labels/labels_consensus.csv`` and the audio below ``data_dir``.

    Args:
        data_dir: the release folder (``Audios/`` and ``Labels/``).
        partition: keep one of its partitions (``Train``, ``Development``, ``Test1``,
            ``Test2``, ``Test3``); ``None`` keeps all.
        dominance: add a ``dominance`` column (EmoDom rescaled); it is not a standard
            column, so such a dataset cannot be concatenated with other corpora.

    Contempt, "other" and no-agreement clips (``C``, ``O``, ``X``) are left out and counted.
    EmoAct/EmoVal/EmoDom (1-7) are rescaled to [-1, 1]. Clips whose talker is unknown
    each count as their own speaker.
    """
    root = Path(data_dir)
    table = next(iter(sorted(root.rglob("labels_consensus.csv"))), None)
    if table is None:
        raise MissingInputError(f"{root}: no Labels/labels_consensus.csv below it; is it MSP-Podcast?")
    if partition is not None and partition not in MSP_PODCAST_PARTITIONS:
        raise ConfigurationError(f"partition must be one of {MSP_PODCAST_PARTITIONS}, got {partition!r}")
    audio = {path.stem: path for path in _audio_files(root)}
    with open(table, newline="", encoding="utf-8") as handle:
        records = list(csv.DictReader(handle))
    rows, dropped, no_audio, unknown_speakers = [], Counter(), [], 0
    for record in records:
        if partition is not None and record["Split_Set"].strip() != partition:
            continue
        code, stem = record["EmoClass"].strip(), Path(record["FileName"].strip()).stem
        if code not in MSP_PODCAST_EMOTIONS:
            dropped[MSP_PODCAST_UNMAPPED.get(code, code)] += 1
            continue
        if stem not in audio:
            no_audio.append(stem)
            continue
        speaker = record["SpkrID"].strip()
        if not speaker.isdigit():  # "Unknown"
            unknown_speakers += 1
            speaker = f"unknown-{stem}"
        gender = record["Gender"].strip().lower()
        row = {
            "audio": str(audio[stem]),
            "emotion": MSP_PODCAST_EMOTIONS[code],
            "speaker": f"msp_podcast-{speaker}",
            "gender": gender if gender in ("female", "male") else "unknown",
            "corpus": "msp_podcast",
            "channel": "speech",
            "intensity": NORMAL_INTENSITY,
            "valence": _scale(float(record["EmoVal"]), 1.0, 7.0),
            "arousal": _scale(float(record["EmoAct"]), 1.0, 7.0),
        }
        if dominance:
            row["dominance"] = _scale(float(record["EmoDom"]), 1.0, 7.0)
        rows.append(row)
    what = f"MSP-Podcast {root} ({partition or 'all partitions'})"
    if no_audio:
        logger.warning("%s: %d labelled clips have no audio file (e.g. %s)", what, len(no_audio), no_audio[0])
    if unknown_speakers:
        logger.warning(
            "%s: %d clips of unknown talkers, each counted as its own speaker", what, unknown_speakers
        )
    dataset = _finish(rows, [], dropped, what)
    if dominance:
        values = [row["dominance"] for row in rows]
        dataset = dataset.add_column("dominance", values, feature=datasets.Value("float32"))
    return dataset


# --------------------------------------------------------------------------- by name


def is_layout_corpus(name: str) -> bool:
    """Whether ``--dataset name`` is one of this module's corpora (``msp_podcast_<anything>`` included)."""
    return name in ("tess", "savee", "emodb", "iemocap", "iemocap_all", "msp_podcast") or name.startswith(
        "msp_podcast_"
    )


def load_layout_corpus(name: str, data_dir: str | os.PathLike) -> datasets.Dataset:
    """A corpus of this module by its ``--dataset`` name.

    Names: ``tess``, ``savee``, ``emodb``, ``iemocap`` (4 classes, excited as happy),
    ``iemocap_all`` (every category with a unified label), ``msp_podcast`` and
    ``msp_podcast_<partition>`` (``msp_podcast_test1``, ...).
    """
    simple = {"tess": load_tess, "savee": load_savee, "emodb": load_emodb, "iemocap": load_iemocap}
    if name in simple:
        return simple[name](data_dir)
    if name == "iemocap_all":
        return load_iemocap(data_dir, four_class=False)
    if name == "msp_podcast":
        return load_msp_podcast(data_dir)
    if name.startswith("msp_podcast_"):
        wanted = name.removeprefix("msp_podcast_").lower()
        partition = next((p for p in MSP_PODCAST_PARTITIONS if p.lower() == wanted), None)
        if partition is None:
            raise ConfigurationError(
                f"--dataset {name}: no such MSP-Podcast partition; use one of "
                + ", ".join(f"msp_podcast_{p.lower()}" for p in MSP_PODCAST_PARTITIONS)
            )
        return load_msp_podcast(data_dir, partition=partition)
    raise ConfigurationError(f"--dataset {name}: not a corpus of hf_emotion.corpora.layouts")
