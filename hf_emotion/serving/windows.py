"""Cutting a signal into sliding windows, and the level test that marks a window silent.

Both work on a stream of blocks, so a recording of any length is windowed with at most one
window plus one block in memory.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

import numpy as np


def rms_dbfs(samples: np.ndarray) -> float:
    """Root-mean-square level of a signal in dB relative to full scale (-inf for all zeros)."""
    if samples.size == 0:
        return -math.inf
    power = float(np.mean(np.square(samples, dtype=np.float64)))
    return 10.0 * math.log10(power) if power > 0 else -math.inf


def window_count(duration: float, window: float, hop: float) -> int:
    """How many windows a recording of ``duration`` seconds is scored in.

    Windows start every ``hop`` seconds; the last one ends at the end of the recording and
    may be shorter than ``window``. A recording up to one window long is one window.

    Example:
        >>> window_count(600.0, 3.0, 1.5), window_count(10.0, 3.0, 1.5), window_count(2.0, 3.0, 1.5)
        (399, 6, 1)
    """
    if duration <= window:
        return 1
    return math.ceil((duration - window) / hop - 1e-9) + 1


def sliding_windows(
    blocks: Iterable[np.ndarray], *, window_samples: int, hop_samples: int
) -> Iterator[tuple[int, np.ndarray]]:
    """Cut consecutive blocks of a signal into windows: ``(start sample, window)`` pairs.

    Holds at most one window plus one block in memory. Windows start every ``hop_samples``;
    when samples remain after the last full window, one shorter window ends the signal.

    Example:
        >>> blocks = [np.arange(4.0), np.arange(4.0, 10.0)]
        >>> [(start, len(w)) for start, w in sliding_windows(blocks, window_samples=4, hop_samples=3)]
        [(0, 4), (3, 4), (6, 4)]
    """
    if not 0 < hop_samples <= window_samples:
        raise ValueError(f"need 0 < hop <= window, got hop={hop_samples} window={window_samples} samples")
    buffer = np.zeros(0, dtype=np.float32)
    start = total = last_end = 0
    emitted = False
    for block in blocks:
        buffer = np.concatenate([buffer, np.asarray(block, dtype=np.float32)])
        total += len(block)
        while buffer.shape[0] >= window_samples:
            yield start, buffer[:window_samples].copy()
            emitted, last_end = True, start + window_samples
            buffer = buffer[hop_samples:]
            start += hop_samples
    if buffer.shape[0] and (not emitted or last_end < total):
        yield start, buffer.copy()


def array_blocks(samples: np.ndarray, block_samples: int) -> Iterator[np.ndarray]:
    """An in-memory signal as consecutive blocks (views, no copies), like a streamed file's."""
    step = max(1, int(block_samples))
    return (samples[i : i + step] for i in range(0, samples.shape[0], step))


__all__ = ["array_blocks", "rms_dbfs", "sliding_windows", "window_count"]
