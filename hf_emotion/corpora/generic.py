"""Any other dataset with audio and emotion-label columns: a CSV/TSV table, a ``save_to_disk`` folder,
an audiofolder or a Hub dataset id, read into the standard columns.

Labels are normalised onto the unified names (``hf_emotion.data.labels``); valence/arousal are
the dataset's own columns when named, else the circumplex proxy of the label.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import datasets

from ..data.labels import EMOTIONS, normalize_label
from ..data.targets import CIRCUMPLEX, NORMAL_INTENSITY, valence_arousal_targets
from ..errors import ConfigurationError
from .dataset import audio_files, read_csv, to_dataset
from .registry import REGISTRY

logger = logging.getLogger(__name__)

#: Files ``save_to_disk`` writes: a folder holding one is a saved dataset.
SAVED_DATASET_MARKERS = ("dataset_info.json", "dataset_dict.json", "state.json")


def is_generic_dataset(source: str) -> bool:
    """A CSV/TSV table, a ``save_to_disk`` folder, or an audiofolder (audio in label sub-folders, or metadata.csv)."""
    path = Path(source)
    if path.is_file():
        return path.suffix.lower() in (".csv", ".tsv")
    if any((path / marker).exists() for marker in SAVED_DATASET_MARKERS):
        return True
    return (path / "metadata.csv").is_file() or any(p.parent != path for p in audio_files(path))


def _check_columns(dataset: datasets.Dataset, wanted: dict[str, str | None], what: str) -> None:
    missing = [
        f"{arg}={col!r}" for arg, col in wanted.items() if col is not None and col not in dataset.column_names
    ]
    if missing:
        raise ConfigurationError(
            f"{what}: column(s) {', '.join(missing)} not found. The dataset has: {', '.join(dataset.column_names)}. "
            "Pass the right names with --audio_column_name / --label_column_name / --speaker_column_name."
        )


def _materialise_audio(value, cache_dir: Path, index: int) -> str:
    """An audio cell (path string or datasets' ``{"path", "bytes"}`` dict) → a path on disk."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if value.get("bytes"):
            digest = hashlib.sha1(value["bytes"]).hexdigest()[:16]
            suffix = Path(value.get("path") or "clip.wav").suffix or ".wav"
            target = cache_dir / f"{digest}{suffix}"
            if not target.exists():
                cache_dir.mkdir(parents=True, exist_ok=True)
                target.write_bytes(value["bytes"])
            return str(target)
        if value.get("path"):
            return value["path"]
    raise ValueError(
        f"row {index}: audio cell is neither a path nor an audio dict with bytes: {type(value).__name__}"
    )


def _read_audiofolder(root: Path) -> datasets.Dataset:
    """An ``audiofolder`` layout read without decoding.

    datasets' own audiofolder builder encodes audio through torchcodec, which does not load
    beside a CPU-only torch; this reads the same layout: ``label/clip.wav`` (the label is
    the parent folder's name) and, when present, ``metadata.csv`` with a ``file_name``
    column whose other columns (speaker, valence, ...) are joined on.
    """
    files = audio_files(root)
    table: dict[str, list] = {
        "audio": [str(p) for p in files],
        "label": [p.parent.name if p.parent != root else "" for p in files],
    }
    metadata = root / "metadata.csv"
    if metadata.exists():
        rows = {str((root / r["file_name"]).resolve()): r for r in read_csv(metadata)}
        extra = [c for c in next(iter(rows.values()), {}) if c != "file_name"]
        for column in extra:
            table[column] = [rows.get(str(p.resolve()), {}).get(column) for p in files]
    return datasets.Dataset.from_dict(table)


def load_audio_dataset(
    name_or_path: str,
    *,
    audio_column: str = "audio",
    label_column: str = "label",
    speaker_column: str | None = None,
    gender_column: str | None = None,
    valence_column: str | None = None,
    arousal_column: str | None = None,
    split: str = "train",
    config_name: str | None = None,
    corpus_name: str | None = None,
) -> datasets.Dataset:
    """Load any Hub dataset id or local dataset with audio and emotion-label columns.

    ``name_or_path`` may be a Hub id, a folder written by ``Dataset.save_to_disk``, an
    ``audiofolder`` directory (labels from sub-folder names), or a CSV file whose audio
    column holds paths (relative paths are taken relative to the CSV's folder). Audio
    columns are read without decoding (datasets' torchcodec decoding is not used); real
    valence/arousal columns, when named, replace the proxy targets.
    """
    corpus = corpus_name or Path(name_or_path.rstrip("/")).name or name_or_path
    base_dir: Path | None = None
    if os.path.isfile(name_or_path) and name_or_path.endswith((".csv", ".tsv")):
        base_dir = Path(name_or_path).resolve().parent
        delimiter = "\t" if name_or_path.endswith(".tsv") else ","
        dataset = datasets.load_dataset("csv", data_files=name_or_path, delimiter=delimiter, split="train")
    elif os.path.isdir(name_or_path) and any(
        (Path(name_or_path) / marker).exists() for marker in SAVED_DATASET_MARKERS
    ):  # written by save_to_disk
        loaded = datasets.load_from_disk(name_or_path)
        dataset = loaded[split] if isinstance(loaded, datasets.DatasetDict) else loaded
    elif os.path.isdir(name_or_path):  # an audiofolder: labels from sub-folder names or metadata.csv
        dataset = _read_audiofolder(Path(name_or_path))
    else:  # a Hub id: needs the network
        dataset = datasets.load_dataset(name_or_path, config_name, split=split)

    what = f"dataset {name_or_path}"
    _check_columns(
        dataset,
        {
            "audio_column": audio_column,
            "label_column": label_column,
            "speaker_column": speaker_column,
            "gender_column": gender_column,
            "valence_column": valence_column,
            "arousal_column": arousal_column,
        },
        what,
    )
    if isinstance(dataset.features[audio_column], datasets.Audio):
        dataset = dataset.cast_column(audio_column, datasets.Audio(decode=False))
    label_feature = dataset.features[label_column]
    if speaker_column is None:
        logger.warning(
            "%s: no speaker column given, so every clip counts as its own speaker and splits cannot keep "
            "speakers apart. Pass --speaker_column_name for speaker-independent evaluation.",
            what,
        )
    cache_dir = Path(datasets.config.HF_DATASETS_CACHE) / "hf_emotion" / "materialised"
    rows = []
    for index, example in enumerate(dataset):
        raw_label = example[label_column]
        label = (
            label_feature.int2str(raw_label) if isinstance(label_feature, datasets.ClassLabel) else raw_label
        )
        emotion = normalize_label(label)
        audio = _materialise_audio(example[audio_column], cache_dir, index)
        if base_dir is not None and not os.path.isabs(audio):
            audio = str(base_dir / audio)
        if valence_column and arousal_column:
            valence, arousal = float(example[valence_column]), float(example[arousal_column])
        elif emotion in CIRCUMPLEX:
            valence, arousal = valence_arousal_targets(emotion, NORMAL_INTENSITY)
        else:
            valence, arousal = float("nan"), float("nan")
        speaker = str(example[speaker_column]) if speaker_column else f"clip{index}"
        rows.append(
            {
                "audio": audio,
                "emotion": emotion,
                "speaker": f"{corpus}-{speaker}",
                "gender": str(example[gender_column]).lower() if gender_column else "unknown",
                "corpus": corpus,
                "channel": "speech",
                "intensity": NORMAL_INTENSITY,
                "valence": valence,
                "arousal": arousal,
            }
        )
    _warn_unless_emotions(sorted({row["emotion"] for row in rows}), [row["audio"] for row in rows], what)
    unknown = sorted({row["emotion"] for row in rows} - set(CIRCUMPLEX))
    if unknown and not (valence_column and arousal_column):
        logger.warning(
            "%s: labels %s have no valence/arousal coordinate; their targets are NaN and ignored",
            what,
            unknown,
        )
    return to_dataset(rows, what)


def _named_like_builtin(paths: Sequence[str]) -> str | None:
    """The built-in corpus (``"ravdess"``, ``"crema_d"``) whose file names the first files have, if any."""
    if not paths:
        return None
    for corpus in REGISTRY:
        if corpus.parse_file_name is None:
            continue
        try:
            for path in paths[:5]:
                corpus.parse_file_name(path)
        except ValueError:
            continue
        return corpus.name
    return None


def _warn_unless_emotions(labels: Sequence[str], paths: Sequence[str], what: str) -> None:
    """Say loudly when a generic dataset's labels are not emotion names (a wrong folder or column)."""
    unknown = [label for label in labels if label not in EMOTIONS]
    if not unknown:
        return
    if len(unknown) < len(labels):
        logger.warning(
            "%s: labels %s are not among the standard emotion names (%s); each is kept as its own class",
            what,
            unknown,
            ", ".join(EMOTIONS),
        )
        return
    corpus = _named_like_builtin(paths)
    hint = f" Its files are named like {corpus}: read it with --dataset {corpus}." if corpus else ""
    logger.warning(
        "%s: NONE of its %d labels is an emotion name (found: %s). The model would learn these as its classes; "
        "check the folder, --dataset and --label_column_name.%s",
        what,
        len(labels),
        ", ".join(labels[:10]) + (" ..." if len(labels) > 10 else ""),
        hint,
    )
