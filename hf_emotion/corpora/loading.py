"""Emotion corpora as ``datasets.Dataset`` objects with one set of standard columns.

Columns (see docs/ARCHITECTURE.md): ``audio`` (path), ``emotion`` (ClassLabel), ``speaker``,
``gender``, ``corpus``, ``channel``, ``intensity``, ``valence``, ``arousal``.

The loaders only read file names and tables; audio is decoded once, later, by
:func:`hf_emotion.data.decode_cache.decode_dataset`.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import datasets
import numpy as np

from ..data.labels import (
    CREMA_D_EMOTIONS,
    CREMA_D_VOTE_LETTERS,
    EMOTIONS,
    RAVDESS_EMOTION_CODES,
    normalize_label,
    ordered_labels,
)
from ..data.targets import CIRCUMPLEX, NORMAL_INTENSITY, valence_arousal_targets
from ..errors import ConfigurationError, MissingInputError, UserError

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
LICENCES = {
    "ravdess": "CC BY-NC-SA 4.0 (Livingstone & Russo 2018, doi:10.1371/journal.pone.0196391)",
    "crema_d": "ODbL 1.0 / DbCL 1.0 (Cao et al. 2014, doi:10.1109/TAFFC.2014.2336244)",
    "tess": "CC BY-NC-ND 4.0 (Dupuis & Pichora-Fuller 2010, doi:10.5683/SP2/E8H2MF)",
    "savee": "free for academic research, registration at kahlan.eps.surrey.ac.uk/savee (Haq & Jackson 2009)",
    "emodb": "free for research, see emodb.bilderbar.info (Burkhardt et al. 2005, doi:10.21437/Interspeech.2005-446)",
    "iemocap": "USC SAIL release agreement, research only (Busso et al. 2008, doi:10.1007/s10579-008-9076-6)",
    "msp_podcast": "UT Dallas academic licence (Lotfian & Busso 2019, doi:10.1109/TAFFC.2017.2736999)",
}
#: Built-in corpora: the name on the card, the Hub licence id of the recordings, where they come from, and
#: their key in `LICENCES` (licence with citation).
RAVDESS_SOURCE = "https://doi.org/10.5281/zenodo.1188976"
CARD_CORPORA = {
    "ravdess": ("RAVDESS", "cc-by-nc-sa-4.0", RAVDESS_SOURCE, "ravdess"),
    "ravdess_speech": ("RAVDESS speech", "cc-by-nc-sa-4.0", RAVDESS_SOURCE, "ravdess"),
    "ravdess_song": ("RAVDESS song", "cc-by-nc-sa-4.0", RAVDESS_SOURCE, "ravdess"),
    "crema_d": ("CREMA-D", "odbl", "https://github.com/CheyneyComputerScience/CREMA-D", "crema_d"),
}
LICENSE_NAMES = {"cc-by-nc-sa-4.0": "CC BY-NC-SA 4.0", "odbl": "ODbL 1.0"}
RAVDESS_INTENSITY = {"01": 0.5, "02": 1.0}
CREMA_D_INTENSITY = {"LO": 0.25, "MD": 0.5, "HI": 0.75, "XX": 0.5}


def _features(label_names: Sequence[str]) -> datasets.Features:
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


def _to_dataset(rows: list[dict], what: str) -> datasets.Dataset:
    if not rows:
        raise ConfigurationError(
            f"{what}: no usable audio clips found (audio files: {', '.join(AUDIO_EXTENSIONS)}); "
            "check --data_dir and --dataset"
        )
    labels = ordered_labels({row["emotion"] for row in rows})
    columns = {name: [row[name] for row in rows] for name in STANDARD_COLUMNS}
    return datasets.Dataset.from_dict(columns, features=_features(labels))


def _audio_files(data_dir: str | os.PathLike) -> list[Path]:
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


def _report_unparsed(names: list[str], what: str) -> None:
    if names:
        shown = ", ".join(names[:5]) + (" ..." if len(names) > 5 else "")
        logger.warning("%s: skipped %d audio files whose names do not parse: %s", what, len(names), shown)


# --------------------------------------------------------------------------- RAVDESS


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


def load_ravdess(data_dir: str | os.PathLike, channel: str = "both") -> datasets.Dataset:
    """Load a RAVDESS folder (any layout, WAV or FLAC, any rate) by its file names.

    Args:
        data_dir: a folder holding RAVDESS audio files anywhere below it.
        channel: ``"speech"``, ``"song"`` or ``"both"``.
    """
    if channel not in ("speech", "song", "both"):
        raise ValueError(f"channel must be 'speech', 'song' or 'both', got {channel!r}")
    rows, unparsed = [], []
    for path in _audio_files(data_dir):
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
    _report_unparsed(unparsed, f"RAVDESS {data_dir}")
    logger.info("RAVDESS %s (%s): %d clips", data_dir, channel, len(rows))
    return _to_dataset(rows, f"RAVDESS folder {data_dir} (channel={channel})")


# --------------------------------------------------------------------------- CREMA-D


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


def _read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


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
    if label_source not in ("intended", "perceived"):
        raise ValueError(f"label_source must be 'intended' or 'perceived', got {label_source!r}")
    root = Path(data_dir)
    genders: dict[str, str] = {}
    if (root / "VideoDemographics.csv").exists():
        for row in _read_csv(root / "VideoDemographics.csv"):
            genders[str(row["ActorID"]).strip()] = row["Sex"].strip().lower()
    perceived: dict[str, tuple[str, float]] = {}
    # The official release keeps the table under processedResults/.
    summary = next((p for p in (root, root / "processedResults") if (p / "summaryTable.csv").exists()), None)
    if summary is not None:
        for row in _read_csv(summary / "summaryTable.csv"):
            # On tied votes VoiceLevel holds one level per tied emotion ("37.2:58.6"): average them.
            levels = [float(v) for v in row["VoiceLevel"].split(":") if v.strip()]
            perceived[row["FileName"].strip()] = (
                row["VoiceVote"].strip(),
                float(np.mean(levels)) if levels else 50.0,
            )
    elif label_source == "perceived":
        raise FileNotFoundError(f"label_source='perceived' needs {root / 'summaryTable.csv'}")

    rows, unparsed, ties = [], [], []
    for path in _audio_files(root):
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
    _report_unparsed(unparsed, f"CREMA-D {data_dir}")
    if ties:
        logger.warning(
            "CREMA-D: skipped %d clips with no single perceived emotion (tied vote or not rated)", len(ties)
        )
    logger.info("CREMA-D %s (%s labels): %d clips", data_dir, label_source, len(rows))
    return _to_dataset(rows, f"CREMA-D folder {data_dir}")


# --------------------------------------------------------------------------- any dataset


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
    files = _audio_files(root)
    table: dict[str, list] = {
        "audio": [str(p) for p in files],
        "label": [p.parent.name if p.parent != root else "" for p in files],
    }
    metadata = root / "metadata.csv"
    if metadata.exists():
        rows = {str((root / r["file_name"]).resolve()): r for r in _read_csv(metadata)}
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
        (Path(name_or_path) / marker).exists()
        for marker in ("dataset_info.json", "dataset_dict.json", "state.json")
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
    return _to_dataset(rows, what)


def _named_like_builtin(paths: Sequence[str]) -> str | None:
    """``"ravdess"`` or ``"crema_d"`` when the first files are named as that corpus names them."""
    if not paths:
        return None
    for corpus, parse in (("ravdess", parse_ravdess_name), ("crema_d", parse_crema_d_name)):
        try:
            for path in paths[:5]:
                parse(path)
        except ValueError:
            continue
        return corpus
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


# --------------------------------------------------------------------------- several at once

# tess ... msp_podcast: hf_emotion/corpora/layouts.py
BUILTIN_CORPORA = (
    *("ravdess", "ravdess_speech", "ravdess_song", "crema_d"),
    *("tess", "savee", "emodb", "iemocap", "msp_podcast"),
)


def load_corpus(name: str, data_dir: str | None = None, **kwargs) -> datasets.Dataset:
    """Load one corpus by name: a built-in corpus from ``data_dir``, or any dataset id/path.

    Raises:
        ConfigurationError: ``name`` is a near miss of a built-in corpus (``ravdes``), or neither a
            built-in corpus nor a generic dataset that can be read.
        MissingInputError: the folder of a built-in corpus is missing.
    """
    if name == "ravdess":
        return load_ravdess(_need_dir(name, data_dir), channel=kwargs.get("channel", "both"))
    if name in ("ravdess_speech", "ravdess_song"):
        return load_ravdess(_need_dir(name, data_dir), channel=name.split("_")[1])
    if name == "crema_d":
        return load_crema_d(_need_dir(name, data_dir), label_source=kwargs.get("label_source", "intended"))
    from .layouts import is_layout_corpus, load_layout_corpus  # imports this module

    if is_layout_corpus(name):
        return load_layout_corpus(name, _need_dir(name, data_dir))
    source = data_dir or name
    check_generic_dataset(name, source)
    generic = {k: v for k, v in kwargs.items() if k not in ("channel", "label_source")}
    if os.path.exists(source):
        return load_audio_dataset(source, **generic)
    try:  # a Hub id: needs the network
        return load_audio_dataset(source, **generic)
    except UserError:  # the dataset loaded, its columns are wrong: said by load_audio_dataset
        raise
    except Exception as error:  # offline, no such repository, gated: all say the same to the user
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigurationError(
            f"--dataset {name}: not a built-in corpus ({', '.join(BUILTIN_CORPORA)}) nor a local file or folder, "
            f"and the Hub could not load it: {first_line}"
        ) from error


def _builtin_near_miss(name: str) -> str | None:
    """The built-in corpus ``name`` is a misspelling of (``ravdes``, ``CREMA-D``, ``ravdess-speech``)."""
    squeeze = {corpus.replace("_", ""): corpus for corpus in BUILTIN_CORPORA}
    key = name.strip().lower().replace("-", "").replace("_", "").replace(" ", "")
    match = difflib.get_close_matches(key, list(squeeze), n=1, cutoff=0.8)
    return squeeze[match[0]] if match else None


def _is_generic_dataset(source: str) -> bool:
    """A CSV/TSV table, a ``save_to_disk`` folder, or an audiofolder (audio in label sub-folders, or metadata.csv)."""
    path = Path(source)
    if path.is_file():
        return path.suffix.lower() in (".csv", ".tsv")
    if any((path / marker).exists() for marker in ("dataset_info.json", "dataset_dict.json", "state.json")):
        return True
    return (path / "metadata.csv").is_file() or any(p.parent != path for p in _audio_files(path))


def check_generic_dataset(name: str, source: str) -> None:
    """Refuse a ``--dataset`` that is neither built in nor a dataset that can be read as generic.

    Raises:
        ConfigurationError: a near miss of a built-in name, a folder with no dataset layout, or a
            name that cannot be a Hub id; each lists the built-in corpora.
    """
    builtins = ", ".join(BUILTIN_CORPORA)
    near = None if os.path.exists(name) else _builtin_near_miss(name)
    if near:
        raise ConfigurationError(
            f"--dataset {name}: not a built-in corpus ({builtins}); did you mean --dataset {near}?"
        )
    if os.path.exists(source):
        if not _is_generic_dataset(source):
            raise ConfigurationError(
                f"--dataset {name}: not a built-in corpus ({builtins}), and {source} is not a generic dataset "
                "(a CSV/TSV of audio paths and labels, a save_to_disk folder, or an audiofolder: audio files in "
                "one sub-folder per label or listed in metadata.csv)"
            )
        return
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(source)
    except HFValidationError:
        raise ConfigurationError(
            f"--dataset {name}: not a built-in corpus ({builtins}) and {source} is not a file, a folder or a "
            "Hub dataset id"
        ) from None


def _need_dir(name: str, data_dir: str | None) -> str:
    from .download import DATASET_DOWNLOADS, cached_dataset_dir

    if data_dir:
        return data_dir
    if name in DATASET_DOWNLOADS:  # an official source: the cache, fetched the first time
        return cached_dataset_dir(name)
    raise MissingInputError(f"--dataset {name} needs --data_dir pointing at its folder")


def load_corpora(names: Sequence[str], data_dirs: Sequence[str | None], **kwargs) -> datasets.Dataset:
    """Load and concatenate corpora; labels unify onto one ClassLabel holding only present names."""
    if len(data_dirs) not in (len(names), 0):
        raise ConfigurationError(
            f"got {len(names)} --dataset value(s) but {len(data_dirs)} --data_dir; give one --data_dir per "
            "--dataset, in the same order"
        )
    parts = [load_corpus(name, data_dirs[i] if data_dirs else None, **kwargs) for i, name in enumerate(names)]
    return unify_labels(parts)


def _relabel(batch, mapping: dict[int, int]):
    return {"emotion": [mapping[i] for i in batch["emotion"]]}


def unify_labels(parts: Sequence[datasets.Dataset]) -> datasets.Dataset:
    """Concatenate datasets whose ``emotion`` ClassLabels differ, onto the union of their labels."""
    names = ordered_labels({n for part in parts for n in part.features["emotion"].names})
    recast = []
    for part in parts:
        old = part.features["emotion"].names
        if old != names:
            mapping = {i: names.index(n) for i, n in enumerate(old)}
            features = part.features.copy()
            features["emotion"] = datasets.ClassLabel(names=names)
            part = part.map(_relabel, batched=True, features=features, fn_kwargs={"mapping": mapping})
        recast.append(part)
    return recast[0] if len(recast) == 1 else datasets.concatenate_datasets(recast)
