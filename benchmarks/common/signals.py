"""Synthetic speech-like audio and best-of timing: what the speed benchmarks measure with (the speed does not
depend on what is said)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

SAMPLING_RATE = 16_000


def speech_like(seconds: float, seed: int) -> np.ndarray:
    """A voiced-like signal with pitch and loudness moving, like speech, at 16 kHz."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLING_RATE)) / SAMPLING_RATE
    f0 = rng.uniform(110, 260) * (1 + 0.08 * np.sin(2 * np.pi * rng.uniform(0.3, 1.5) * t))
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLING_RATE
    voice = sum(np.sin(k * phase) / k for k in range(1, 6))
    envelope = 0.55 + 0.45 * np.sin(2 * np.pi * rng.uniform(2, 6) * t)
    return (0.2 * envelope * voice / 2.3 + 0.01 * rng.standard_normal(t.shape)).astype(np.float32)


def write_long_recording(path: Path, seconds: float) -> None:
    """A long recording of speech-like signal, written 10 s at a time."""
    import soundfile as sf

    with sf.SoundFile(path, "w", samplerate=SAMPLING_RATE, channels=1, subtype="PCM_16") as handle:
        for i in range(int(np.ceil(seconds / 10))):
            handle.write(speech_like(min(10.0, seconds - 10 * i), seed=1000 + i))


def best_time(function, repeats: int) -> float:
    """The fastest of ``repeats`` timed calls, after one call to warm up (allocator, kernels)."""
    function()
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        function()
        times.append(time.perf_counter() - began)
    return min(times)
