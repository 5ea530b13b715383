"""Speech segments of a recording, found by Silero VAD.

The ``silero-vad`` package ships its model inside the wheel, so this works offline. A recording
is read twice as a stream of blocks: once to get Silero's speech probability for every 32 ms
frame (a float per frame: 450 kB for an hour), turned into segments by Silero's own
post-processing, and once to cut those segments out. Memory is bounded by one segment, and
segments are at most ``MAX_SEGMENT_SECONDS`` long (Silero splits longer speech at its longest
pause), whatever the recording's length.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

VAD_MISSING = "--segment vad needs Silero VAD: pip install 'hf-emotion[vad]' (or pip install silero-vad)"
#: Rates Silero VAD runs at.
VAD_SAMPLING_RATES = (8_000, 16_000)
#: Silero frames: 512 samples at 16 kHz, 256 at 8 kHz (32 ms).
FRAME_SECONDS = 0.032
MAX_SEGMENT_SECONDS = 120.0


@dataclass(frozen=True)
class VadSettings:
    """How speech frames become segments (Silero's ``get_speech_timestamps`` arguments).

    Attributes:
        threshold: a segment starts when Silero's speech probability reaches this.
        end_threshold: and ends when it falls below this. Silero's default (threshold - 0.15)
            and 30 ms of padding put ends 0.3-0.4 s after the speech when noise follows it
            (its probability decays slowly); ending at ``threshold`` with no padding kept every
            boundary of four espeak-ng sentences between -40 dBFS noise and silence within
            0.28 s (tests/test_segments.py).
        min_speech_ms: shorter bursts (a click, a cough) are dropped.
        min_silence_ms: a pause must last this long to end a segment. 500 ms keeps a
            sentence's pauses between words inside its segment, and splits at the gaps
            between turns or utterances.
        pad_ms: each segment is widened by this much on both sides (Silero's ``speech_pad_ms``).
        max_segment_seconds: longer speech is split, at its longest pause where there is one.
    """

    threshold: float = 0.5
    end_threshold: float = 0.5
    min_speech_ms: int = 250
    min_silence_ms: int = 500
    pad_ms: int = 0
    max_segment_seconds: float = MAX_SEGMENT_SECONDS


def require_vad() -> None:
    """Raise an ``ImportError`` saying what to install when silero-vad is missing."""
    _silero_model()


@functools.lru_cache(maxsize=1)
def _silero():
    """The ``silero_vad`` module. Importing it sets torch to one thread for the whole process
    (``silero_vad/model.py``), which left training on one core of two after the first VAD call; every
    use goes through here, which gives the caller's setting back."""
    import torch

    threads = torch.get_num_threads()
    try:
        import silero_vad
    except ImportError as error:
        raise ImportError(VAD_MISSING) from error
    finally:
        torch.set_num_threads(threads)
    return silero_vad


@functools.lru_cache(maxsize=1)
def _silero_model():
    return _silero().load_silero_vad()  # the TorchScript model shipped in the wheel: no download


def speech_probabilities(blocks: Iterable[np.ndarray], sampling_rate: int) -> tuple[np.ndarray, int]:
    """Silero's speech probability for each 32 ms frame of a stream, and the stream's length in samples."""
    import torch

    if sampling_rate not in VAD_SAMPLING_RATES:
        raise ValueError(f"Silero VAD runs at {VAD_SAMPLING_RATES} Hz, not {sampling_rate} Hz")
    model = _silero_model()
    frame = round(FRAME_SECONDS * sampling_rate)
    probabilities: list[float] = []
    pending = np.zeros(0, dtype=np.float32)
    total = 0
    # Silero runs a tiny network on each 32 ms frame: with more than one thread, synchronising
    # them costs more than the work (1 minute of audio: 1.5 s on 1 thread, 22 s on 2 busy cores).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.inference_mode():
            model.reset_states()
            for block in blocks:
                total += len(block)
                pending = np.concatenate([pending, np.asarray(block, dtype=np.float32)])
                usable = len(pending) - len(pending) % frame
                for start in range(0, usable, frame):
                    probabilities.append(
                        model(torch.from_numpy(pending[start : start + frame]), sampling_rate).item()
                    )
                pending = pending[usable:]
            if len(pending):  # the last partial frame, zero-padded as Silero does
                last = np.pad(pending, (0, frame - len(pending)))
                probabilities.append(model(torch.from_numpy(last), sampling_rate).item())
    finally:
        torch.set_num_threads(threads)
    return np.asarray(probabilities, dtype=np.float32), total


def speech_spans(
    blocks: Iterable[np.ndarray], sampling_rate: int, settings: VadSettings | None = None
) -> tuple[list[tuple[int, int]], int]:
    """``(start, end)`` sample positions of the speech in a stream of blocks, in order, and the
    stream's length in samples."""
    settings = settings or VadSettings()
    probabilities, total = speech_probabilities(blocks, sampling_rate)
    stamps = _silero().get_speech_timestamps_from_probs(
        probabilities.tolist(),
        sampling_rate=sampling_rate,
        threshold=settings.threshold,
        neg_threshold=settings.end_threshold,
        min_speech_duration_ms=settings.min_speech_ms,
        min_silence_duration_ms=settings.min_silence_ms,
        speech_pad_ms=settings.pad_ms,
        max_speech_duration_s=settings.max_segment_seconds,
        audio_length_samples=total,
    )
    return [(int(stamp["start"]), int(stamp["end"])) for stamp in stamps], total


def cut_spans(blocks: Iterable[np.ndarray], spans: list[tuple[int, int]]) -> Iterator[tuple[int, np.ndarray]]:
    """The samples of each ``(start, end)`` span of a stream (spans sorted, not overlapping):
    ``(start, samples)`` pairs, holding one span and one block at a time."""
    spans = iter(spans)
    current = next(spans, None)
    pieces: list[np.ndarray] = []
    position = 0  # sample index of the block's first sample
    for block in blocks:
        block_end = position + len(block)
        while current is not None and current[0] < block_end:
            start, end = current
            pieces.append(block[max(start - position, 0) : min(end - position, len(block))])
            if end > block_end:
                break
            yield start, np.concatenate(pieces)
            pieces = []
            current = next(spans, None)
        position = block_end
        if current is None:
            return
    if current is not None and pieces:  # the stream ended inside the last span
        yield current[0], np.concatenate(pieces)


__all__ = ["VAD_MISSING", "VadSettings", "cut_spans", "require_vad", "speech_probabilities", "speech_spans"]
