"""MSP-Podcast: podcast speech, 7 emotions and listener ratings, labelled in a table.

``Labels/labels_consensus.csv`` gives each clip its consensus category (EmoClass), its mean
valence, arousal and dominance ratings (1-7), its talker, gender and partition (Train,
Development, Test1-3). ``--dataset msp_podcast`` reads every partition, ``msp_podcast_test1``
(and so on) one. Valence/arousal are the raters' own, rescaled to [-1, 1]. Not downloadable
here: UT Dallas gives it out under an academic licence.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import datasets

from ..data.targets import NORMAL_INTENSITY
from ..errors import ConfigurationError, MissingInputError
from .corpus import Corpus, Licence
from .dataset import audio_files, finish_dataset, read_csv, rescale_rating

logger = logging.getLogger(__name__)

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
PARTITION_PREFIX = "msp_podcast_"

LICENCE = Licence(
    terms="UT Dallas academic licence (Lotfian & Busso 2019, doi:10.1109/TAFFC.2017.2736999)",
    name="UT Dallas academic licence",
)
SOURCE = "https://ecs.utdallas.edu/research/researchlabs/msp-lab/MSP-Podcast.html"


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
    audio = {path.stem: path for path in audio_files(root)}
    rows, dropped, no_audio, unknown_speakers = [], Counter(), [], 0
    for record in read_csv(table):
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
            "valence": rescale_rating(float(record["EmoVal"]), 1.0, 7.0),
            "arousal": rescale_rating(float(record["EmoAct"]), 1.0, 7.0),
        }
        if dominance:
            row["dominance"] = rescale_rating(float(record["EmoDom"]), 1.0, 7.0)
        rows.append(row)
    what = f"MSP-Podcast {root} ({partition or 'all partitions'})"
    if no_audio:
        logger.warning("%s: %d labelled clips have no audio file (e.g. %s)", what, len(no_audio), no_audio[0])
    if unknown_speakers:
        logger.warning(
            "%s: %d clips of unknown talkers, each counted as its own speaker", what, unknown_speakers
        )
    dataset = finish_dataset(rows, [], dropped, what)
    if dominance:
        values = [row["dominance"] for row in rows]
        dataset = dataset.add_column("dominance", values, feature=datasets.Value("float32"))
    return dataset


def partition_of(name: str) -> str:
    """The partition ``--dataset msp_podcast_<partition>`` names (``msp_podcast_test1`` → ``Test1``).

    Raises:
        ConfigurationError: no such partition; lists the names there are.
    """
    wanted = name.removeprefix(PARTITION_PREFIX).lower()
    partition = next((p for p in MSP_PODCAST_PARTITIONS if p.lower() == wanted), None)
    if partition is None:
        raise ConfigurationError(
            f"--dataset {name}: no such MSP-Podcast partition; use one of "
            + ", ".join(f"{PARTITION_PREFIX}{p.lower()}" for p in MSP_PODCAST_PARTITIONS)
        )
    return partition


def load_by_name(name: str, data_dir: str, options: Mapping[str, Any]) -> datasets.Dataset:
    """``msp_podcast`` (every partition) or ``msp_podcast_<partition>`` (one)."""
    if name == "msp_podcast":
        return load_msp_podcast(data_dir)
    return load_msp_podcast(data_dir, partition=partition_of(name))


#: Its line in the registry.
REGISTRY_ENTRIES = (
    Corpus(
        "msp_podcast",
        corpus_id="msp_podcast",
        title="MSP-Podcast",
        licence=LICENCE,
        source=SOURCE,
        load=load_by_name,
        also_reads=lambda name: name.startswith(PARTITION_PREFIX),
    ),
)
