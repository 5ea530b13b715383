"""RAVDESS: 24 actors, 8 emotions at two intensities, speech and song, labelled by file name.

Ryerson Audio-Visual Database of Emotional Speech and Song. A file name ``MM-CC-EE-II-SS-RR-AA``
gives modality, vocal channel, emotion, intensity, statement, repetition and actor (odd actors
are men). Downloaded from Zenodo record 1188976: ``Audio_Speech_Actors_01-24.zip`` and
``Audio_Song_Actors_01-24.zip``, whose size and MD5 the record's API lists; each zip holds
``Actor_XX/*.wav``, as :func:`load_ravdess` reads it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import datasets

from ..data.labels import EMOTIONS
from ..data.targets import valence_arousal_targets
from .corpus import Corpus, Download, Licence
from .dataset import AUDIO_EXTENSIONS, audio_files, report_unparsed, to_dataset
from .download import RemoteFile, extract_zip, fetch, zenodo_file

logger = logging.getLogger(__name__)

#: Emotion codes 01-08; the unified label set is RAVDESS's eight names, in code order.
RAVDESS_EMOTION_CODES: dict[str, str] = {f"{i + 1:02d}": name for i, name in enumerate(EMOTIONS)}
RAVDESS_INTENSITY = {"01": 0.5, "02": 1.0}
CHANNELS = ("speech", "song", "both")

LICENCE = Licence(
    terms="CC BY-NC-SA 4.0 (Livingstone & Russo 2018, doi:10.1371/journal.pone.0196391)",
    name="CC BY-NC-SA 4.0",
    hub_id="cc-by-nc-sa-4.0",
)
SOURCE = "https://doi.org/10.5281/zenodo.1188976"
ZENODO = "https://zenodo.org"
ZENODO_RECORD = "1188976"
SPEECH_ZIP = "Audio_Speech_Actors_01-24.zip"
SONG_ZIP = "Audio_Song_Actors_01-24.zip"


# --------------------------------------------------------------------------- file names


@dataclass(frozen=True)
class RavdessName:
    """The seven fields of a RAVDESS file name ``MM-CC-EE-II-SS-RR-AA``."""

    modality: str
    channel: str
    emotion: str
    intensity: float
    statement: int
    repetition: int
    actor: int

    @property
    def gender(self) -> str:
        return "male" if self.actor % 2 == 1 else "female"


def parse_ravdess_name(path: str | os.PathLike) -> RavdessName:
    """Parse a RAVDESS file name such as ``03-01-05-02-01-01-12.wav``.

    Raises:
        ValueError: naming the file and the field that does not fit.
    """
    stem = Path(path).name.split(".")[0]
    fields = stem.split("-")
    if len(fields) != 7 or not all(len(f) == 2 and f.isdigit() for f in fields):
        raise ValueError(f"{path}: not a RAVDESS name (expected 7 two-digit fields MM-CC-EE-II-SS-RR-AA)")
    modality, channel, emotion, intensity, statement, repetition, actor = fields
    if channel not in ("01", "02"):
        raise ValueError(f"{path}: vocal channel {channel} is neither 01 (speech) nor 02 (song)")
    if emotion not in RAVDESS_EMOTION_CODES:
        raise ValueError(f"{path}: emotion code {emotion} is not 01-08")
    if intensity not in RAVDESS_INTENSITY:
        raise ValueError(f"{path}: intensity code {intensity} is neither 01 nor 02")
    if not 1 <= int(actor) <= 24:
        raise ValueError(f"{path}: actor {actor} outside 01-24")
    return RavdessName(
        modality=modality,
        channel="speech" if channel == "01" else "song",
        emotion=RAVDESS_EMOTION_CODES[emotion],
        intensity=RAVDESS_INTENSITY[intensity],
        statement=int(statement),
        repetition=int(repetition),
        actor=int(actor),
    )


# --------------------------------------------------------------------------- loading


def load_ravdess(data_dir: str | os.PathLike, channel: str = "both") -> datasets.Dataset:
    """Load a RAVDESS folder (any layout, WAV or FLAC, any rate) by its file names.

    Args:
        data_dir: a folder holding RAVDESS audio files anywhere below it.
        channel: ``"speech"``, ``"song"`` or ``"both"``.
    """
    if channel not in CHANNELS:
        raise ValueError(f"channel must be 'speech', 'song' or 'both', got {channel!r}")
    rows, unparsed = [], []
    for path in audio_files(data_dir):
        try:
            name = parse_ravdess_name(path)
        except ValueError:
            unparsed.append(str(path))
            continue
        if channel != "both" and name.channel != channel:
            continue
        valence, arousal = valence_arousal_targets(name.emotion, name.intensity)
        rows.append(
            {
                "audio": str(path),
                "emotion": name.emotion,
                "speaker": f"ravdess-{name.actor:02d}",
                "gender": name.gender,
                "corpus": "ravdess",
                "channel": name.channel,
                "intensity": name.intensity,
                "valence": valence,
                "arousal": arousal,
            }
        )
    report_unparsed(unparsed, f"RAVDESS {data_dir}")
    logger.info("RAVDESS %s (%s): %d clips", data_dir, channel, len(rows))
    return to_dataset(rows, f"RAVDESS folder {data_dir} (channel={channel})")


def load_by_name(name: str, data_dir: str, options: Mapping[str, Any]) -> datasets.Dataset:
    """``ravdess`` (``channel`` option, both by default), ``ravdess_speech`` or ``ravdess_song``."""
    channel = options.get("channel", "both") if name == "ravdess" else name.removeprefix("ravdess_")
    return load_ravdess(data_dir, channel=channel)


# --------------------------------------------------------------------------- download


def download_zip(key: str, folder: Path, url: str | None = None) -> int:
    """One of the record's zips into ``folder``, extracted; returns the number of audio files.

    ``url``: a Zenodo-compatible server root (default :data:`ZENODO`), or the zip itself.
    """
    if url and url.endswith(".zip"):
        remote = RemoteFile(url=url, name=key)  # a mirror publishes no checksum: the zip test remains
    else:
        remote = zenodo_file(ZENODO_RECORD, key, base=url or ZENODO)
    archive = fetch(remote, folder / key)
    names = extract_zip(archive, folder)
    archive.unlink()
    return sum(Path(name).suffix.lower() in AUDIO_EXTENSIONS for name in names)


# Both zips go into one folder (their file names differ, and the loader tells speech from song by
# name), so --dataset ravdess reads both.
SPEECH = Download(
    "ravdess",
    folder="ravdess",
    description=f"RAVDESS speech (Zenodo record {ZENODO_RECORD}, {SPEECH_ZIP})",
    fetch=partial(download_zip, SPEECH_ZIP),
)
SONG = Download(
    "ravdess-song",
    folder="ravdess",
    description=f"RAVDESS song (Zenodo record {ZENODO_RECORD}, {SONG_ZIP})",
    fetch=partial(download_zip, SONG_ZIP),
)

#: Its lines in the registry: one per --dataset name.
REGISTRY_ENTRIES = tuple(
    Corpus(
        name,
        corpus_id="ravdess",
        title=title,
        licence=LICENCE,
        source=SOURCE,
        load=load_by_name,
        downloads=downloads,
        parse_file_name=parse_ravdess_name if name == "ravdess" else None,
    )
    for name, title, downloads in (
        ("ravdess", "RAVDESS", (SPEECH, SONG)),
        ("ravdess_speech", "RAVDESS speech", (SPEECH,)),
        ("ravdess_song", "RAVDESS song", (SONG,)),
    )
)
