"""What the recognizer takes as audio, and how each input is read: decoded whole, or streamed in blocks.

Paths, bytes, arrays or tensors (with their ``sampling_rate``) and ``datasets``-style dicts all end
as mono float32 samples at the model's rate. A long file is never decoded whole: it becomes a
stream of blocks that windows or VAD read, with one block in memory.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from hf_emotion.data.audio import AudioDecodeError, audio_info, decode_audio, resample, stream_audio_blocks
from hf_emotion.model.rate_check import warn_if_rate_implausible
from hf_emotion.serving.options import check_sampling_rate
from hf_emotion.serving.windows import array_blocks

AudioLike = str | os.PathLike | bytes | np.ndarray | torch.Tensor | dict


@dataclass
class PendingInput:
    """One input on its way through a call: decoded samples, or a way to stream it (twice for VAD)."""

    index: int
    source: str
    samples: np.ndarray | None = None
    open_blocks: Callable[[], Iterable[np.ndarray]] | None = None


def unpack_dict(item: AudioLike, sampling_rate: Any) -> tuple[AudioLike, Any]:
    """``{"array": ..., "sampling_rate": ...}`` (as ``datasets`` yields) → ``(array, rate)``; others as given."""
    if not isinstance(item, dict):
        return item, sampling_rate
    if "array" not in item:
        raise AudioDecodeError("<dict>", "corrupt", "a dict input needs 'array' and 'sampling_rate' keys")
    return item["array"], item.get("sampling_rate", sampling_rate)


def decode_whole(
    item: AudioLike, rate: int, sampling_rate: Any = None, *, allow_silence: bool = False
) -> tuple[str, np.ndarray]:
    """``(source name, samples at rate)`` of any input, decoded whole (whatever its length)."""
    item, sampling_rate = unpack_dict(item, sampling_rate)
    if isinstance(item, (str, os.PathLike)):
        return os.fspath(item), decode_audio(item, rate, max_duration=None, allow_silence=allow_silence)
    if isinstance(item, (bytes, bytearray)):
        return "<bytes>", decode_audio(bytes(item), rate, max_duration=None, allow_silence=allow_silence)
    if sampling_rate is None:
        raise AudioDecodeError("<array>", "corrupt", "an array input needs sampling_rate=")
    original = check_sampling_rate(sampling_rate, "<array>")
    # Checked (mono, every sample a number) at the declared rate, so that the voice is judged as declared.
    samples = decode_audio(
        item, original, orig_sampling_rate=original, max_duration=None, allow_silence=allow_silence
    )
    warn_if_rate_implausible(samples, original, "<array>")
    return "<array>", resample(samples, original, rate)


def read_input(
    index: int,
    item: AudioLike,
    rate: int,
    *,
    sampling_rate: Any,
    stream: bool,
    max_clip_seconds: float,
    block_seconds: float,
    whole_below_seconds: float = 0.0,
) -> PendingInput:
    """Decode a short input now; a long file (or any, with ``stream``) becomes a block stream, a long array
    blocks of itself. With ``stream``, an input shorter than ``whole_below_seconds`` is still decoded whole
    (a clip of under two windows is one window: two half-clip windows would contradict its answer).
    Silence is decoded, not refused: the recognizer marks it."""
    item, sampling_rate = unpack_dict(item, sampling_rate)
    if isinstance(item, (str, os.PathLike)):
        name = os.fspath(item)
        duration = audio_info(name).duration  # an unreadable file fails here, before anything streams
        if (stream and duration >= whole_below_seconds) or duration > max_clip_seconds:
            return PendingInput(
                index, name, open_blocks=lambda: stream_audio_blocks(name, rate, block_seconds=block_seconds)
            )
    source, samples = decode_whole(item, rate, sampling_rate, allow_silence=True)
    if (stream and samples.shape[0] >= whole_below_seconds * rate) or samples.shape[
        0
    ] > max_clip_seconds * rate:
        return PendingInput(index, source, open_blocks=lambda: array_blocks(samples, block_seconds * rate))
    return PendingInput(index, source, samples=samples)


def recording_blocks(audio: AudioLike, rate: int, sampling_rate: Any) -> tuple[str, Iterable[np.ndarray]]:
    """``(source name, blocks)`` of one recording: a file streamed block by block, anything else decoded."""
    audio, sampling_rate = unpack_dict(audio, sampling_rate)
    if isinstance(audio, (str, os.PathLike)):
        return os.fspath(audio), stream_audio_blocks(audio, rate)
    source, samples = decode_whole(audio, rate, sampling_rate)  # the rate checked as for clips
    return source, [samples]


__all__ = ["AudioLike", "PendingInput", "decode_whole", "read_input", "recording_blocks", "unpack_dict"]
