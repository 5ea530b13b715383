"""Feature-extraction speed of the baselines: shared STFT + cache + processes vs a plain librosa loop.

Both paths compute the same features for every clip (40 MFCCs and their deltas, chroma,
128 mel bands, spectral centroid and bandwidth, zero-crossing rate, RMS). The plain loop is
what the original projects did: ``librosa.load`` and one librosa call per feature, each
recomputing its own STFT (and chroma estimating the tuning), one file after another. The
baselines' path decodes once, takes one STFT, derives everything from it, and runs in
``--n_jobs`` processes into an empty cache (a cold run; a warm run reads the cache).

    python -m benchmarks.baseline_features --data_dir /data/ravdess-speech \
        --output benchmarks/results/baseline_features.md
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

from benchmarks.common.paths import RESULTS
from benchmarks.common.reports import load_average
from hf_emotion.evaluation.machine import cpu_model


def plain_librosa(path: str, sr: int = 16_000, n_fft: int = 1024, hop: int = 256) -> np.ndarray:
    import librosa

    y, _ = librosa.load(path, sr=sr)
    kw = dict(n_fft=n_fft, hop_length=hop)
    mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=40, **kw)
    delta = librosa.feature.delta(mfcc, mode="nearest")
    delta2 = librosa.feature.delta(mfcc, order=2, mode="nearest")
    chroma = librosa.feature.chroma_stft(y=y, sr=sr, **kw)
    mel = librosa.feature.melspectrogram(y=y, sr=sr, n_mels=128, **kw)
    centroid = librosa.feature.spectral_centroid(y=y, sr=sr, **kw)
    bandwidth = librosa.feature.spectral_bandwidth(y=y, sr=sr, **kw)
    zcr = librosa.feature.zero_crossing_rate(y, frame_length=n_fft, hop_length=hop)
    rms = librosa.feature.rms(y=y, frame_length=n_fft, hop_length=hop)
    return np.concatenate(
        [
            mfcc.mean(1),
            delta.std(1),
            delta2.std(1),
            chroma.mean(1),
            librosa.power_to_db(mel).mean(1),
            [centroid.mean(), bandwidth.mean(), zcr.mean(), rms.mean()],
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", required=True, help="a RAVDESS speech folder")
    parser.add_argument("--limit", type=int, default=None, help="only the first N clips")
    parser.add_argument("--n_jobs", type=int, default=None, help="worker processes (default: all CPUs)")
    parser.add_argument("--output", default=str(RESULTS / "baseline_features.md"))
    args = parser.parse_args()

    from tqdm.auto import tqdm

    from hf_emotion import load_ravdess
    from hf_emotion.baselines.features import extract_features

    paths = load_ravdess(args.data_dir, channel="speech")["audio"][: args.limit]
    plain_librosa(paths[0])  # warm up imports and numba, outside the timing
    start = time.perf_counter()
    for path in tqdm(paths, desc="plain librosa loop"):
        plain_librosa(path)
    plain_seconds = time.perf_counter() - start

    n_jobs = args.n_jobs or os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        extract_features(paths, n_jobs=n_jobs, cache_dir=cache, desc="shared STFT, cold cache")
        cold_seconds = time.perf_counter() - start
        start = time.perf_counter()
        extract_features(paths, n_jobs=n_jobs, cache_dir=cache, desc="warm cache")
        warm_seconds = time.perf_counter() - start
    load = load_average()
    snippet = "\n".join(
        [
            "## Baseline feature extraction",
            "",
            f"{len(paths)} clips of {args.data_dir}; {date.today()}; `nproc` {os.cpu_count()}, {cpu_model()}; "
            f"load average {load:.1f} at the end (the machine is shared).",
            "",
            "| path | seconds | clips/s | speed-up |",
            "|---|---|---|---|",
            f"| plain librosa loop (sequential, one STFT per feature) | {plain_seconds:.1f} | {len(paths) / plain_seconds:.1f} | 1.0× |",
            f"| shared STFT, {n_jobs} processes, cold cache | {cold_seconds:.1f} | {len(paths) / cold_seconds:.1f} | {plain_seconds / cold_seconds:.1f}× |",
            f"| warm cache | {warm_seconds:.1f} | {len(paths) / warm_seconds:.1f} | {plain_seconds / warm_seconds:.1f}× |",
            "",
        ]
    )
    print(snippet)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(snippet)


if __name__ == "__main__":
    main()
