"""CREMA-D: 91 actors, 6 emotions, labelled by file name and by a crowd's votes.

Crowd-sourced Emotional Multimodal Actors Dataset. A file name ``AAAA_SSS_EEE_LL`` gives actor,
sentence, intended emotion and level; ``VideoDemographics.csv`` gives each actor's sex and
``summaryTable.csv`` what raters heard (VoiceVote) and how strongly (VoiceLevel). Downloaded from
the CheyneyComputerScience/CREMA-D GitHub repository: every ``AudioWAV/*.wav`` and the two tables
(found by name: the repository has moved them between folders). The clips are Git LFS objects:
each pointer gives the clip's SHA-256 and size, and the clip comes from GitHub's LFS media host,
checked against both.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import datasets
import numpy as np
from tqdm.auto import tqdm

from ..data.targets import valence_arousal_targets
from .corpus import Corpus, Download, Licence
from .dataset import audio_files, read_csv, report_unparsed, to_dataset
from .download import (
    DownloadError,
    GitHubSource,
    RemoteFile,
    entry_path,
    fetch,
    fetch_all,
    github_file,
    read_json,
)

logger = logging.getLogger(__name__)

#: The six intended emotions, as file names spell them.
CREMA_D_EMOTIONS: dict[str, str] = {
    "ANG": "angry",
    "DIS": "disgust",
    "FEA": "fearful",
    "HAP": "happy",
    "NEU": "neutral",
    "SAD": "sad",
}
#: The single letters of the crowd-perception table (summaryTable.csv, VoiceVote).
CREMA_D_VOTE_LETTERS: dict[str, str] = {
    "A": "angry",
    "D": "disgust",
    "F": "fearful",
    "H": "happy",
    "N": "neutral",
    "S": "sad",
}
CREMA_D_INTENSITY = {"LO": 0.25, "MD": 0.5, "HI": 0.75, "XX": 0.5}
LABEL_SOURCES = ("intended", "perceived")

LICENCE = Licence(
    terms="ODbL 1.0 / DbCL 1.0 (Cao et al. 2014, doi:10.1109/TAFFC.2014.2336244)",
    name="ODbL 1.0",
    hub_id="odbl",
)
GITHUB_REPOSITORY = "CheyneyComputerScience/CREMA-D"
SOURCE = f"https://github.com/{GITHUB_REPOSITORY}"
TABLES = ("VideoDemographics.csv", "summaryTable.csv")


# --------------------------------------------------------------------------- file names and tables


def parse_crema_d_name(path: str | os.PathLike) -> dict:
    """Parse a CREMA-D file name ``AAAA_SSS_EEE_LL`` (actor, sentence, emotion, level)."""
    stem = Path(path).name.split(".")[0]
    fields = stem.split("_")
    if len(fields) != 4 or not fields[0].isdigit():
        raise ValueError(f"{path}: not a CREMA-D name (expected AAAA_SSS_EEE_LL)")
    actor, sentence, emotion, level = fields
    if emotion not in CREMA_D_EMOTIONS:
        raise ValueError(f"{path}: emotion {emotion} is not one of {sorted(CREMA_D_EMOTIONS)}")
    if level not in CREMA_D_INTENSITY:
        raise ValueError(f"{path}: level {level} is not one of {sorted(CREMA_D_INTENSITY)}")
    return {
        "actor": actor,
        "sentence": sentence,
        "emotion": CREMA_D_EMOTIONS[emotion],
        "level": level,
        "stem": stem,
    }


def read_genders(root: Path) -> dict[str, str]:
    """``{actor id: "female" | "male"}`` from ``VideoDemographics.csv``; empty when it is not there."""
    if not (root / "VideoDemographics.csv").exists():
        return {}
    return {
        str(row["ActorID"]).strip(): row["Sex"].strip().lower()
        for row in read_csv(root / "VideoDemographics.csv")
    }


def read_perceived(root: Path) -> dict[str, tuple[str, float]] | None:
    """``{clip stem: (VoiceVote, VoiceLevel)}`` from ``summaryTable.csv``; None when it is not there."""
    # The official release keeps the table under processedResults/.
    folder = next((p for p in (root, root / "processedResults") if (p / "summaryTable.csv").exists()), None)
    if folder is None:
        return None
    perceived = {}
    for row in read_csv(folder / "summaryTable.csv"):
        # On tied votes VoiceLevel holds one level per tied emotion ("37.2:58.6"): average them.
        levels = [float(v) for v in row["VoiceLevel"].split(":") if v.strip()]
        perceived[row["FileName"].strip()] = (
            row["VoiceVote"].strip(),
            float(np.mean(levels)) if levels else 50.0,
        )
    return perceived


# --------------------------------------------------------------------------- loading


def load_crema_d(data_dir: str | os.PathLike, label_source: str = "intended") -> datasets.Dataset:
    """Load a CREMA-D folder of ``AAAA_SSS_EEE_LL`` clips.

    Gender comes from ``VideoDemographics.csv`` when it is in ``data_dir``. With
    ``summaryTable.csv`` present, ``label_source="perceived"`` takes the crowd's audio-only
    vote as the label (clips whose vote is a tie are skipped, and counted in the log) and the
    perceived VoiceLevel (0-100) as the intensity.

    Args:
        data_dir: the CREMA-D folder (audio anywhere below it, e.g. ``AudioWAV/``).
        label_source: ``"intended"`` (the actor's instruction, from the file name) or
            ``"perceived"`` (summaryTable.csv's VoiceVote).
    """
    if label_source not in LABEL_SOURCES:
        raise ValueError(f"label_source must be 'intended' or 'perceived', got {label_source!r}")
    root = Path(data_dir)
    genders = read_genders(root)
    perceived = read_perceived(root)
    if perceived is None:
        if label_source == "perceived":
            raise FileNotFoundError(f"label_source='perceived' needs {root / 'summaryTable.csv'}")
        perceived = {}

    rows, unparsed, ties = [], [], []
    for path in audio_files(root):
        try:
            name = parse_crema_d_name(path)
        except ValueError:
            unparsed.append(str(path))
            continue
        emotion, intensity = name["emotion"], CREMA_D_INTENSITY[name["level"]]
        if name["stem"] in perceived:
            vote, level = perceived[name["stem"]]
            intensity = float(np.clip(level / 100.0, 0.0, 1.0))
            if label_source == "perceived":
                if vote not in CREMA_D_VOTE_LETTERS:
                    ties.append(name["stem"])
                    continue
                emotion = CREMA_D_VOTE_LETTERS[vote]
        elif label_source == "perceived":
            ties.append(name["stem"])
            continue
        valence, arousal = valence_arousal_targets(emotion, intensity)
        rows.append(
            {
                "audio": str(path),
                "emotion": emotion,
                "speaker": f"crema_d-{name['actor']}",
                "gender": genders.get(name["actor"], "unknown"),
                "corpus": "crema_d",
                "channel": "speech",
                "intensity": intensity,
                "valence": valence,
                "arousal": arousal,
            }
        )
    report_unparsed(unparsed, f"CREMA-D {data_dir}")
    if ties:
        logger.warning(
            "CREMA-D: skipped %d clips with no single perceived emotion (tied vote or not rated)", len(ties)
        )
    logger.info("CREMA-D %s (%s labels): %d clips", data_dir, label_source, len(rows))
    return to_dataset(rows, f"CREMA-D folder {data_dir}")


def load_by_name(name: str, data_dir: str, options: Mapping[str, Any]) -> datasets.Dataset:
    """``crema_d``, with the ``label_source`` option (intended by default)."""
    return load_crema_d(data_dir, label_source=options.get("label_source", "intended"))


# --------------------------------------------------------------------------- download


def repository_paths(source: GitHubSource, branch: str) -> list[str]:
    """Every file path of ``branch`` except those inside the other media folders.

    One recursive listing of the whole repository (about 30,000 files: clips in WAV and MP3,
    videos) can come back truncated, so the top level is listed alone, AudioWAV/ alone, and the
    remaining folders recursively; AudioMP3/ and the Video*/ folders are not needed and skipped.
    """
    trees = f"{source.api}/repos/{source.repository}/git/trees"
    paths = []
    for entry in read_json(f"{trees}/{branch}").get("tree", []):
        name = entry["path"]
        if entry["type"] == "blob":
            paths.append(name)
        elif name == "AudioWAV" or not name.startswith(("Audio", "Video")):
            listing = read_json(f"{trees}/{entry['sha']}" + ("" if name == "AudioWAV" else "?recursive=1"))
            if listing.get("truncated"):
                raise DownloadError(
                    f"{source.repository}: GitHub truncated the listing of {name}/; try again later"
                )
            paths += [f"{name}/{e['path']}" for e in listing.get("tree", []) if e["type"] == "blob"]
    return paths


def crema_d_files(source: GitHubSource, folder: Path) -> Iterator[RemoteFile]:
    """The two tables, then the clips (LFS media, with their pointers' SHA-256 and size).

    Every listed name is checked to stay inside ``folder`` (:func:`entry_path`) before anything is fetched.
    """
    repository = read_json(f"{source.api}/repos/{source.repository}")
    branch = repository.get("default_branch", "master")
    paths = repository_paths(source, branch)
    for path in paths:
        entry_path(folder, path, f"{source.api}/repos/{source.repository}/git/trees/{branch}")
    tables = {}
    for wanted in TABLES:
        found = sorted((p for p in paths if p.rsplit("/", 1)[-1] == wanted), key=len)
        if not found:
            raise DownloadError(f"{source.repository}: no {wanted} in branch {branch}")
        tables[wanted] = found[0]
    clips = sorted(p for p in paths if p.startswith("AudioWAV/") and p.endswith(".wav"))
    if not clips:
        raise DownloadError(f"{source.repository}: no AudioWAV/*.wav in branch {branch}")
    for name, path in tables.items():
        yield RemoteFile(url=source.raw_url(branch, path), name=name)
    with ThreadPoolExecutor(8) as pool:
        pointers = pool.map(lambda path: github_file(source, branch, path), clips)
        yield from tqdm(pointers, total=len(clips), desc="CREMA-D LFS pointers", unit="file")


def download_crema_d(folder: Path, url: str | None = None) -> int:
    """CREMA-D's clips into ``folder/AudioWAV`` and its two tables into ``folder``.

    ``url``: a mirror serving GitHub's API, raw files and LFS media under ``url/api``, ``url/raw``
    and ``url/media``; the repository itself by default.
    """
    source = GitHubSource.mirror(GITHUB_REPOSITORY, url) if url else GitHubSource(GITHUB_REPOSITORY)
    files = list(crema_d_files(source, folder))
    clips = [f for f in files if f.name.startswith("AudioWAV/")]
    for table in (f for f in files if f not in clips):
        fetch(table, folder / table.name, progress=False)
    fetch_all(clips, folder, "CREMA-D AudioWAV")
    return len(clips)


DOWNLOAD = Download(
    "crema-d",
    folder="crema-d",
    description=f"CREMA-D (github.com/{GITHUB_REPOSITORY}, AudioWAV/ and two tables)",
    fetch=download_crema_d,
)

#: Its line in the registry.
REGISTRY_ENTRIES = (
    Corpus(
        "crema_d",
        corpus_id="crema_d",
        title="CREMA-D",
        licence=LICENCE,
        source=SOURCE,
        load=load_by_name,
        downloads=(DOWNLOAD,),
        parse_file_name=parse_crema_d_name,
    ),
)
