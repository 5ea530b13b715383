"""Rows of the standard columns → a ``datasets.Dataset``: the helpers every corpus loader shares.

Columns (see docs/ARCHITECTURE.md): ``audio`` (path), ``emotion`` (ClassLabel), ``speaker``,
``gender``, ``corpus``, ``channel``, ``intensity``, ``valence``, ``arousal``.

The loaders only read file names and tables; audio is decoded once, later, by
:func:`hf_emotion.data.decode_cache.decode_dataset`.
"""

from __future__ import annotations

import csv
import logging
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import datasets

from ..data.labels import ordered_labels
from ..data.targets import NORMAL_INTENSITY, valence_arousal_targets
from ..errors import ConfigurationError, MissingInputError

logger = logging.getLogger(__name__)

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".opus")
STANDARD_COLUMNS = (
    "audio",
    "emotion",
    "speaker",
    "gender",
    "corpus",
    "channel",
    "intensity",
    "valence",
    "arousal",
)


def standard_features(label_names: Sequence[str]) -> datasets.Features:
    """The standard columns' types, with ``emotion`` a ClassLabel of ``label_names``."""
    return datasets.Features(
        {
            "audio": datasets.Value("string"),
            "emotion": datasets.ClassLabel(names=list(label_names)),
            "speaker": datasets.Value("string"),
            "gender": datasets.Value("string"),
            "corpus": datasets.Value("string"),
            "channel": datasets.Value("string"),
            "intensity": datasets.Value("float32"),
            "valence": datasets.Value("float32"),
            "arousal": datasets.Value("float32"),
        }
    )


def to_dataset(rows: list[dict], what: str) -> datasets.Dataset:
    """A dataset of the standard columns from ``rows``; its labels are those present, in canonical order.

    Raises:
        ConfigurationError: no rows; ``what`` names the folder or dataset that gave none.
    """
    if not rows:
        raise ConfigurationError(
            f"{what}: no usable audio clips found (audio files: {', '.join(AUDIO_EXTENSIONS)}); "
            "check --data_dir and --dataset"
        )
    labels = ordered_labels({row["emotion"] for row in rows})
    columns = {name: [row[name] for row in rows] for name in STANDARD_COLUMNS}
    return datasets.Dataset.from_dict(columns, features=standard_features(labels))


def audio_files(data_dir: str | os.PathLike) -> list[Path]:
    """Audio files anywhere below ``data_dir``, following symlinked folders (e.g. ``Actor_01 -> /data/...``)."""
    root = Path(data_dir)
    if not root.is_dir():
        raise MissingInputError(
            f"data directory {root} does not exist or is not a directory; check --data_dir"
        )
    files, seen = [], set()
    for folder, subfolders, names in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:  # a link back up the tree: walk each real folder once
            subfolders.clear()
            continue
        seen.add(real)
        files += [Path(folder) / n for n in names if Path(n).suffix.lower() in AUDIO_EXTENSIONS]
    return sorted(p for p in files if p.is_file())


def read_csv(path: Path) -> list[dict]:
    """The rows of a CSV table with a header line."""
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def report_unparsed(names: list[str], what: str) -> None:
    """Warn about audio files skipped because their names are not in the corpus's layout."""
    if names:
        shown = ", ".join(names[:5]) + (" ..." if len(names) > 5 else "")
        logger.warning("%s: skipped %d audio files whose names do not parse: %s", what, len(names), shown)


def report_dropped(what: str, dropped: Counter) -> None:
    """Warn about clips left out because their category has no unified label, by category and count."""
    if dropped:
        listed = ", ".join(f"{n} {name}" for name, n in dropped.most_common())
        logger.warning("%s: left out %d clips with no unified label: %s", what, sum(dropped.values()), listed)


def acted_row(path: Path, emotion: str, speaker: str, gender: str, corpus: str) -> dict:
    """The row of an acted clip with no intensity or ratings: normal intensity, proxy valence/arousal."""
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


def rescale_rating(value: float, low: float, high: float) -> float:
    """A listener rating on ``[low, high]`` → [-1, 1], the range of the valence/arousal targets."""
    return max(-1.0, min(1.0, 2.0 * (value - low) / (high - low) - 1.0))


def finish_dataset(rows: list[dict], unparsed: list[str], dropped: Counter, what: str) -> datasets.Dataset:
    """Log what a loader skipped and kept, then build its dataset."""
    report_unparsed(unparsed, what)
    report_dropped(what, dropped)
    logger.info("%s: %d clips, %d speakers", what, len(rows), len({row["speaker"] for row in rows}))
    return to_dataset(rows, what)
