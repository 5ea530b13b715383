"""One way in for audio: any file, bytes or array → mono float32 at the model's rate.

Audio is decoded here with soundfile (libsndfile: WAV, FLAC, OGG/Vorbis, Opus, MP3) and
resampled with soxr, never through ``datasets``' own Audio feature: from datasets 4 on that
decodes through torchcodec, which does not load beside a CPU-only torch build.

Every failure raises :class:`AudioDecodeError`, which names the file and says what is wrong
with it, so that dataset loading can report and skip bad clips instead of crashing mid-epoch.
"""

from __future__ import annotations

import io
import logging
import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import soundfile as sf
import soxr

logger = logging.getLogger(__name__)

DEFAULT_SAMPLING_RATE = 16_000
# Longer than any emotion corpus clip by far; a file past this is almost certainly a mistake
# (a whole session recorded into one file) and would exhaust memory when batched.
DEFAULT_MAX_DURATION = 600.0
# Peak amplitude under which a signal counts as digital silence (-100 dBFS).
SILENCE_PEAK = 1e-5
# libsndfile's SF_COUNT_MAX: the frame count it reports when a header leaves the length unknown
# (a FLAC written as a stream, with total samples 0 in its STREAMINFO).
UNKNOWN_LENGTH = 2**63 - 1
# Frames read at a time when a file has to be read through (unknown length).
READ_BLOCK_FRAMES = 1 << 16
# An array's shorter side is its channels; more than this is a mistake (a batch, or a spectrogram).
MAX_CHANNELS = 16

AudioInput = str | os.PathLike | bytes | np.ndarray | Any


class AudioDecodeError(ValueError):
    """Audio that cannot be used, with the file and the reason.

    Attributes:
        path: the file (or ``"<bytes>"`` / ``"<array>"``) that failed.
        reason: a short machine-friendly code, e.g. ``"missing"``, ``"empty"``, ``"corrupt"``,
            ``"non_finite"``, ``"silent"``, ``"too_long"``, ``"too_short"``.
        detail: the human explanation.
    """

    def __init__(self, path: str, reason: str, detail: str):
        self.path = str(path)
        self.reason = reason
        self.detail = detail
        super().__init__(f"{self.path}: {detail}")


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds, read from its header without decoding the samples."""

    path: str
    sampling_rate: int
    channels: int
    frames: int
    format: str
    subtype: str
    declared_frames: int | None = None  # what a WAV header announces, when it differs from the data present
    length_in_header: bool = True  # False: the header left the length unknown; ``frames`` were counted

    @property
    def duration(self) -> float:
        return self.frames / self.sampling_rate if self.sampling_rate else 0.0

    @property
    def missing_fraction(self) -> float:
        """The share of the announced audio that is not in the file (0 unless truncated)."""
        if not self.declared_frames or self.declared_frames <= self.frames:
            return 0.0
        return 1.0 - self.frames / self.declared_frames


def _source_name(source: AudioInput) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    if isinstance(source, (bytes, bytearray)):
        return "<bytes>"
    return "<array>"


def _declared_wav_frames(path: str) -> int | None:
    """The frame count a RIFF/WAVE header announces (its data chunk size), or None if it says none."""
    with open(path, "rb") as handle:
        head = handle.read(1 << 16)
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    block_align, offset = None, 12
    while offset + 8 <= len(head):
        chunk, size = head[offset : offset + 4], struct.unpack("<I", head[offset + 4 : offset + 8])[0]
        if chunk == b"fmt " and offset + 22 <= len(head):
            block_align = struct.unpack("<H", head[offset + 20 : offset + 22])[0]
        if chunk == b"data":
            # 0 and 0xFFFFFFFF mark a WAV written as a stream, whose length is not known up front.
            if not block_align or size in (0, 0xFFFFFFFF):
                return None
            return size // block_align
        offset += 8 + size + (size & 1)  # chunks are padded to an even size
    return None


@contextmanager
def _open_for_reading(name: str | io.BytesIO) -> Iterator[sf.SoundFile]:
    """A SoundFile that reads to the end, even when its header leaves the length unknown.

    soundfile moves its position by seeking after each read; libsndfile cannot seek in a FLAC
    without a length, so such a file is marked unseekable and simply read through.
    """
    with sf.SoundFile(name) as handle:
        if handle.frames == UNKNOWN_LENGTH:
            handle._info.seekable = 0
        yield handle


def _read_through(name: str | io.BytesIO) -> tuple[np.ndarray, int]:
    """Read a whole file block by block: ``(samples (frames, channels), rate)``."""
    blocks = []
    with _open_for_reading(name) as handle:
        while True:
            blocks.append(handle.read(READ_BLOCK_FRAMES, dtype="float32", always_2d=True))
            if blocks[-1].shape[0] < READ_BLOCK_FRAMES:
                return np.concatenate(blocks), int(handle.samplerate)


def _count_frames(name: str) -> int:
    total = 0
    with _open_for_reading(name) as handle:
        while True:
            read = handle.read(READ_BLOCK_FRAMES, dtype="float32", always_2d=True).shape[0]
            total += read
            if read < READ_BLOCK_FRAMES:
                return total


def _warn_if_truncated(info: AudioInfo) -> None:
    if info.missing_fraction > 0:
        logger.warning(
            "%s: truncated: the header announces %.2f s but the file holds %.2f s (%.0f%% missing); "
            "using what is there",
            info.path,
            info.declared_frames / info.sampling_rate,
            info.duration,
            100 * info.missing_fraction,
        )


def audio_info(path: str | os.PathLike) -> AudioInfo:
    """Read the header of an audio file.

    A header that leaves the length unknown (a FLAC written as a stream) is completed by
    reading the file through once, so ``frames`` and ``duration`` are always true. For a WAV,
    ``declared_frames`` keeps what the header announced when the file holds less (truncated).

    Raises:
        AudioDecodeError: the file is missing, empty or not a readable audio file.
    """
    name = os.fspath(path)
    if not os.path.exists(name):
        raise AudioDecodeError(name, "missing", "file not found")
    if os.path.isdir(name):
        raise AudioDecodeError(name, "missing", "is a directory, not an audio file")
    if os.path.getsize(name) == 0:
        raise AudioDecodeError(name, "empty", "empty file (0 bytes)")
    try:
        info = sf.info(name)
    except Exception as error:  # libsndfile raises LibsndfileError / RuntimeError
        raise AudioDecodeError(
            name, "corrupt", f"not a readable audio file (truncated or corrupt header?): {error}"
        ) from error
    frames, declared = int(info.frames), None
    if frames == UNKNOWN_LENGTH:
        try:
            frames = _count_frames(name)
        except Exception as error:
            raise AudioDecodeError(
                name, "corrupt", f"its header does not give the length and reading it through failed: {error}"
            ) from error
    elif info.format == "WAV":
        declared = _declared_wav_frames(name)
        declared = declared if declared is not None and declared > frames else None
    return AudioInfo(
        name,
        int(info.samplerate),
        int(info.channels),
        frames,
        info.format,
        info.subtype,
        declared_frames=declared,
        length_in_header=int(info.frames) != UNKNOWN_LENGTH,
    )


def to_mono(samples: np.ndarray) -> np.ndarray:
    """Average channels: (frames,) or (frames, channels) → (frames,)."""
    if samples.ndim == 1:
        return samples
    return samples.mean(axis=1)


def resample(samples: np.ndarray, orig_sampling_rate: int, sampling_rate: int) -> np.ndarray:
    """Resample a mono float signal with soxr (high quality)."""
    if orig_sampling_rate == sampling_rate:
        return samples
    return soxr.resample(samples, orig_sampling_rate, sampling_rate, quality="HQ").astype(
        np.float32, copy=False
    )


def _array_to_float(samples: Any, name: str) -> np.ndarray:
    if hasattr(samples, "detach"):  # torch.Tensor, without importing torch here
        samples = samples.detach().cpu().numpy()
    array = np.asarray(samples)
    if array.dtype.kind in "iu":
        info = np.iinfo(array.dtype)
        offset = 0 if array.dtype.kind == "i" else (int(info.max) + 1) // 2
        array = (array.astype(np.float64) - offset) / (int(info.max) - offset + 1)
    elif array.dtype.kind != "f":
        raise AudioDecodeError(name, "corrupt", f"unsupported sample type {array.dtype}")
    if array.size == 0:
        raise AudioDecodeError(name, "empty", f"contains no audio samples (shape {array.shape})")
    if array.ndim == 2 and min(array.shape) > MAX_CHANNELS:
        raise AudioDecodeError(
            name,
            "corrupt",
            f"an array of shape {array.shape} has more than {MAX_CHANNELS} channels either way round; "
            f"pass (frames,), (frames, channels) or (channels, frames) with at most {MAX_CHANNELS} channels",
        )
    if array.ndim == 2 and array.shape[0] < array.shape[1]:
        array = array.T  # (channels, frames) → (frames, channels): the shorter side is the channels
    if array.ndim not in (1, 2):
        raise AudioDecodeError(
            name, "corrupt", f"expected a 1-D or 2-D array of samples, got shape {array.shape}"
        )
    return array.astype(np.float32, copy=False)


def _check_samples(
    samples: np.ndarray,
    name: str,
    sampling_rate: int,
    *,
    allow_silence: bool,
    min_duration: float,
) -> np.ndarray:
    if samples.size == 0:
        raise AudioDecodeError(name, "empty", "contains no audio samples")
    if not np.isfinite(samples).all():
        bad = int((~np.isfinite(samples)).sum())
        raise AudioDecodeError(name, "non_finite", f"contains {bad} NaN or infinite samples")
    duration = samples.shape[0] / sampling_rate
    if duration < min_duration:
        raise AudioDecodeError(name, "too_short", f"is {duration:.3f} s long, shorter than {min_duration} s")
    if not allow_silence and float(np.abs(samples).max()) < SILENCE_PEAK:
        raise AudioDecodeError(name, "silent", "is pure digital silence (peak below -100 dBFS)")
    return samples


def decode_audio(
    source: AudioInput,
    sampling_rate: int = DEFAULT_SAMPLING_RATE,
    *,
    orig_sampling_rate: int | None = None,
    max_duration: float | None = DEFAULT_MAX_DURATION,
    min_duration: float = 0.0,
    allow_silence: bool = False,
) -> np.ndarray:
    """Decode audio to a mono float32 signal at ``sampling_rate``.

    Args:
        source: a path (WAV, FLAC, OGG, MP3, ...: any rate, channel count and sample
            format), the bytes of such a file, or an array of samples (int or float;
            ``(frames,)``, ``(frames, channels)`` or ``(channels, frames)``) together with
            ``orig_sampling_rate``.
        sampling_rate: the rate to return.
        orig_sampling_rate: the rate of an array ``source``; ignored for files.
        max_duration: refuse longer input (seconds); ``None`` for no limit. Long recordings
            are better read with :func:`stream_audio_blocks`.
        min_duration: refuse shorter input (seconds).
        allow_silence: return pure digital silence instead of raising.

    Returns:
        A 1-D ``float32`` array.

    Raises:
        AudioDecodeError: naming the input and what is wrong with it.

    Example:
        >>> import numpy as np
        >>> tone = np.sin(np.arange(8000) / 8000 * 2 * np.pi * 440).astype(np.float32)
        >>> decode_audio(tone, 16000, orig_sampling_rate=8000).shape
        (16000,)
    """
    name = _source_name(source)
    if isinstance(source, (str, os.PathLike)):
        info = audio_info(source)
        if max_duration is not None and info.duration > max_duration:
            raise AudioDecodeError(
                name, "too_long", f"is {info.duration:.1f} s long, over the limit of {max_duration:.0f} s"
            )
        _warn_if_truncated(info)
        try:
            if info.length_in_header:
                samples, orig_sampling_rate = sf.read(name, dtype="float32", always_2d=False)
            else:
                samples, orig_sampling_rate = _read_through(name)
        except Exception as error:
            raise AudioDecodeError(name, "corrupt", f"could not decode the audio data: {error}") from error
    elif isinstance(source, (bytes, bytearray)):
        if len(source) == 0:
            raise AudioDecodeError(name, "empty", "empty input (0 bytes)")
        try:
            samples, orig_sampling_rate = _read_through(io.BytesIO(source))  # the length may be unknown
        except Exception as error:
            raise AudioDecodeError(name, "corrupt", f"not a readable audio file: {error}") from error
    else:
        if orig_sampling_rate is None:
            raise AudioDecodeError(name, "corrupt", "an array needs its orig_sampling_rate")
        samples = _array_to_float(source, name)
    if orig_sampling_rate is None or orig_sampling_rate <= 0:
        raise AudioDecodeError(name, "corrupt", f"invalid sampling rate {orig_sampling_rate}")
    duration = samples.shape[0] / orig_sampling_rate
    if max_duration is not None and duration > max_duration:
        raise AudioDecodeError(
            name, "too_long", f"is {duration:.1f} s long, over the limit of {max_duration:.0f} s"
        )
    samples = to_mono(samples)
    _check_samples(samples, name, orig_sampling_rate, allow_silence=allow_silence, min_duration=min_duration)
    return np.ascontiguousarray(resample(samples, int(orig_sampling_rate), sampling_rate), dtype=np.float32)


def stream_audio_blocks(
    path: str | os.PathLike,
    sampling_rate: int = DEFAULT_SAMPLING_RATE,
    *,
    block_seconds: float = 30.0,
) -> Iterator[np.ndarray]:
    """Read a long file in consecutive mono blocks at ``sampling_rate``.

    Memory stays bounded by one block whatever the file's length: the file is read block
    by block and resampled with a streaming soxr resampler, so the concatenation of the
    blocks equals the whole resampled signal (up to the resampler's edge handling).

    Raises:
        AudioDecodeError: the file is missing, empty, unreadable or holds NaN/inf samples.
    """
    info = audio_info(path)
    name = info.path
    _warn_if_truncated(info)
    block_frames = max(1, int(round(block_seconds * info.sampling_rate)))
    stream = None
    if info.sampling_rate != sampling_rate:
        stream = soxr.ResampleStream(info.sampling_rate, sampling_rate, 1, dtype="float32", quality="HQ")
    pending = np.zeros(0, dtype=np.float32)
    target = max(1, int(round(block_seconds * sampling_rate)))
    try:
        with _open_for_reading(name) as handle:
            while True:
                chunk = handle.read(block_frames, dtype="float32", always_2d=True)
                last = chunk.shape[0] < block_frames
                mono = chunk.mean(axis=1)
                if not np.isfinite(mono).all():
                    raise AudioDecodeError(name, "non_finite", "contains NaN or infinite samples")
                if stream is not None:
                    mono = stream.resample_chunk(mono, last=last)
                pending = np.concatenate([pending, mono.astype(np.float32, copy=False)])
                while pending.shape[0] >= target:
                    yield pending[:target]
                    pending = pending[target:]
                if last:
                    break
    except AudioDecodeError:
        raise
    except Exception as error:
        raise AudioDecodeError(name, "corrupt", f"could not decode the audio data: {error}") from error
    if pending.shape[0]:
        yield pending


__all__ = [
    "AudioDecodeError",
    "AudioInfo",
    "DEFAULT_MAX_DURATION",
    "DEFAULT_SAMPLING_RATE",
    "audio_info",
    "decode_audio",
    "resample",
    "stream_audio_blocks",
    "to_mono",
]
