"""The decode cache: every clip of a dataset decoded once into an ``input_audio`` column.

Decoded, resampled arrays are cached through datasets' cache under a name made from the files'
identity (path, size, modification time), the rate and the length limit, and joined row by row
to the metadata of the current load, so labels are never read stale. Files that cannot be used
are reported by name and reason and skipped, never crash the run.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import datasets
import numpy as np

from .audio import DEFAULT_MAX_DURATION, AudioDecodeError, decode_audio

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BadFile:
    path: str
    reason: str
    detail: str

    def as_dict(self) -> dict:
        return {"path": self.path, "reason": self.reason, "detail": self.detail}


def _decode_batch(batch, sampling_rate: int, max_duration: float | None):
    arrays, errors = [], []
    for path in batch["audio"]:
        try:
            arrays.append(decode_audio(path, sampling_rate, max_duration=max_duration))
            errors.append("")
        except AudioDecodeError as error:
            arrays.append(np.zeros(0, dtype=np.float32))
            errors.append(f"{error.reason}\t{error.detail}")
    return {"input_audio": arrays, "decode_error": errors}


def _decode_fingerprint(paths: Sequence[str], sampling_rate: int, max_duration: float | None) -> str:
    """A name for the decoded audio of these files, in this order: their identity, the rate, the limit."""
    digest = hashlib.sha256(f"v2|{sampling_rate}|{max_duration}".encode())
    for path in paths:
        try:
            stat = os.stat(path)
            digest.update(f"{path}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
        except OSError:
            digest.update(f"{path}|missing\n".encode())
    return digest.hexdigest()[:24]


def decode_dataset(
    dataset: datasets.Dataset,
    sampling_rate: int,
    *,
    max_duration: float | None = DEFAULT_MAX_DURATION,
    num_proc: int | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> tuple[datasets.Dataset, list[BadFile]]:
    """Decode every clip once into an ``input_audio`` column, skipping and reporting bad files.

    Only what decoding produces (the arrays and the decode errors) is cached, under a name
    derived from the file list (paths, sizes, modification times), the rate and the length
    limit; it is joined row by row to ``dataset`` as loaded now. So a second epoch or run
    reads the audio back instead of decoding it again, while labels, speakers and every other
    column always come from the current metadata (a relabelled table is never read stale).

    Returns:
        The dataset of clips that decoded, with an ``input_audio`` float32 column, and the
        list of files that did not (path, reason code, explanation).
    """
    cache_root = Path(cache_dir or Path(datasets.config.HF_DATASETS_CACHE) / "hf_emotion" / "decoded")
    cache_root.mkdir(parents=True, exist_ok=True)
    paths = list(dataset["audio"])
    cache_file = cache_root / f"decoded-{_decode_fingerprint(paths, sampling_rate, max_duration)}.arrow"
    features = datasets.Features(
        {
            "audio": datasets.Value("string"),
            "input_audio": datasets.Sequence(datasets.Value("float32")),
            "decode_error": datasets.Value("string"),
        }
    )
    audio = datasets.Dataset.from_dict({"audio": paths}).map(
        _decode_batch,
        batched=True,
        batch_size=16,
        fn_kwargs={"sampling_rate": sampling_rate, "max_duration": max_duration},
        features=features,
        cache_file_name=str(cache_file),
        load_from_cache_file=True,
        num_proc=num_proc if num_proc and num_proc > 1 else None,
        desc=f"Decoding audio at {sampling_rate} Hz",
    )
    if list(audio["audio"]) != paths:  # the name covers the paths; this guards against a reused file name
        raise RuntimeError(f"decode cache {cache_file} does not match the dataset; delete it and rerun")
    decoded = datasets.concatenate_datasets([dataset, audio.remove_columns("audio")], axis=1)
    errors = decoded["decode_error"]
    bad = []
    for path, error in zip(decoded["audio"], errors, strict=True):
        if error:
            reason, detail = error.split("\t", 1)
            bad.append(BadFile(path, reason, detail))
    if bad:
        counts = Counter(b.reason for b in bad)
        logger.warning(
            "Skipped %d unusable audio files (%s):\n%s",
            len(bad),
            ", ".join(f"{n} {r}" for r, n in counts.most_common()),
            "\n".join(f"  {b.path}: {b.detail}" for b in bad),
        )
        keep = [i for i, error in enumerate(errors) if not error]
        decoded = decoded.select(keep)
    return decoded.remove_columns("decode_error"), bad
