"""Hand-made acoustic features for the baselines: one STFT per clip, cached on disk, in parallel.

Every clip is decoded once through :func:`hf_emotion.data.audio.decode_audio` (so a bad file is
reported by name and skipped), transformed once by an STFT, and every feature is derived
from that one spectrogram instead of librosa recomputing it per feature:

- ``rf`` (80): 40 MFCC means + 40 MFCC standard deviations over time (rf-mfcc).
- ``spectral`` (180): 40 MFCC means + 12 chroma means + 128 mel-band means (mlp-spectral).
- ``vector`` (264): the 1-D CNN's input, in this order

  ====================================  =====
  40 MFCC means                          40
  40 delta-MFCC standard deviations      40
  40 delta-delta-MFCC std deviations     40
  12 chroma means                        12
  128 log-mel band means                 128
  spectral centroid, spectral bandwidth,  4
  zero-crossing rate, RMS energy means
  ====================================  =====

  (the deltas are summarised by their standard deviation because their mean over a
  clip is ~0 by construction and carries no information).
- ``va`` (120): for va-rf, the mean, median, standard deviation, maximum and minimum over
  time of 24 frame descriptors (20 MFCCs, RMS energy in dB, zero-crossing rate, spectral
  centroid and bandwidth in kHz).
- ``logmel`` (128, T): the silence-trimmed log-mel spectrogram (dB, float16) from which
  :func:`fit_frames` cuts the 2-D CNN's 128×128 image.

Chroma uses a fixed A440 tuning (``tuning=0``) rather than librosa's per-clip tuning
estimate: speech has no concert pitch and the estimate costs more than all the other
features together.

Each clip's features are stored under ``$HF_EMOTION_HOME/features`` (default
``~/.cache/hf_emotion/features``) in a file named by a hash of the clip's path, size,
modification time, the feature configuration and the variant (clean or augmented), so a
second run, another system or another fold reads them back instead of recomputing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from ..data.audio import AudioDecodeError, decode_audio

logger = logging.getLogger(__name__)

FEATURE_VERSION = 2
VECTOR_KEYS = ("rf", "spectral", "vector", "va")
DIMENSIONS = {"rf": 80, "spectral": 180, "vector": 264, "va": 120}
SUMMARY_STATISTICS = ("mean", "median", "std", "max", "min")
# Augmented copies of each clip for the 1-D CNN's training set (audio-domain, seeded per file).
AUGMENTATIONS = ("noise", "shift")

# Counts clips whose features were computed (not read from the cache) in this process;
# tests use it to check that a second extraction is served from the cache.
EXTRACTION_COUNTER = {"computed": 0, "cached": 0}


@dataclass(frozen=True)
class FeatureConfig:
    """The analysis settings; part of every cache key."""

    sampling_rate: int = 16_000
    n_fft: int = 1024
    hop_length: int = 256
    n_mfcc: int = 40
    n_mels: int = 128
    n_chroma: int = 12
    trim_top_db: float = 30.0
    max_logmel_frames: int = 512

    def key(self) -> str:
        return json.dumps({"version": FEATURE_VERSION, **asdict(self)}, sort_keys=True)


@dataclass
class FeatureTable:
    """Features of the clips that decoded, in input order, and the clips that did not."""

    paths: list[str]
    indices: list[int]  # positions of ``paths`` in the input list
    vectors: dict[str, np.ndarray]  # key -> (N, D)
    logmel: list[np.ndarray] | None = None
    augmented: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # variant -> key -> (N, D)
    skipped: list[dict] = field(default_factory=list)


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """The feature cache folder: ``cache_dir``, else ``$HF_EMOTION_HOME/features``."""
    if cache_dir is not None:
        return Path(cache_dir)
    home = os.environ.get("HF_EMOTION_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "hf_emotion")
    return Path(home) / "features"


def cache_path(path: str, config: FeatureConfig, variant: str, root: Path) -> Path:
    """Where one clip's features live: a hash of path, size, mtime, config and variant."""
    stat = os.stat(path)
    text = f"{os.path.abspath(path)}|{stat.st_size}|{stat.st_mtime_ns}|{config.key()}|{variant}"
    digest = hashlib.sha256(text.encode()).hexdigest()[:32]
    return root / digest[:2] / f"{digest}.npz"


# --------------------------------------------------------------------------- the features


@lru_cache(maxsize=4)
def _filters(config: FeatureConfig):
    import librosa

    mel = librosa.filters.mel(sr=config.sampling_rate, n_fft=config.n_fft, n_mels=config.n_mels)
    chroma = librosa.filters.chroma(
        sr=config.sampling_rate, n_fft=config.n_fft, n_chroma=config.n_chroma, tuning=0.0
    )
    freqs = librosa.fft_frequencies(sr=config.sampling_rate, n_fft=config.n_fft)
    return mel.astype(np.float32), chroma.astype(np.float32), freqs.astype(np.float64)


def zero_crossing_rate(samples: np.ndarray, *, frame_length: int, hop_length: int) -> np.ndarray:
    """Share of sign changes per frame, equal to ``librosa.feature.zero_crossing_rate``'s defaults.

    Written in numpy because librosa's version runs through numba, which crashed the process with a
    segmentation fault on fresh installs (numba 0.68.1, llvmlite 0.50.0); nothing here needs a JIT.
    Frames are centred with edge padding; values within 1e-10 of zero count as positive.

    Returns:
        ``(T,)`` float, one rate per frame, the frames of ``librosa.stft(center=True)``.
    """
    half = frame_length // 2
    padded = np.pad(np.asarray(samples), (half, half), mode="edge")
    negative = np.signbit(np.where(np.abs(padded) <= 1e-10, 0.0, padded))
    frames = np.lib.stride_tricks.sliding_window_view(negative, frame_length)[::hop_length]  # (T, frame)
    # librosa marks no crossing at a frame's first sample (pad=False), hence frame_length in the mean.
    return (frames[:, 1:] != frames[:, :-1]).sum(axis=1) / frame_length


def compute_features(samples: np.ndarray, config: FeatureConfig, *, with_logmel: bool = True) -> dict:
    """All features of one mono signal at ``config.sampling_rate`` from a single STFT.

    Returns:
        ``{"rf": (80,), "spectral": (180,), "vector": (264,)}`` plus ``"logmel"``
        ``(n_mels, T)`` float16 when ``with_logmel``.
    """
    import librosa
    import scipy.fft

    mel_fb, chroma_fb, freqs = _filters(config)
    if samples.shape[0] < config.n_fft:
        samples = np.pad(samples, (0, config.n_fft - samples.shape[0]))
    stft = librosa.stft(samples, n_fft=config.n_fft, hop_length=config.hop_length)  # (F, T) complex
    magnitude = np.abs(stft)
    power = magnitude**2

    mel = mel_fb @ power  # (n_mels, T)
    log_mel = librosa.power_to_db(mel, ref=1.0, top_db=80.0)
    mfcc = scipy.fft.dct(log_mel, axis=0, type=2, norm="ortho")[: config.n_mfcc]  # as librosa.feature.mfcc
    delta = librosa.feature.delta(mfcc, mode="nearest")
    delta2 = librosa.feature.delta(mfcc, order=2, mode="nearest")
    chroma = librosa.util.normalize(chroma_fb @ power, norm=np.inf, axis=0)  # as chroma_stft

    # Spectral centroid and bandwidth (p=2) on the magnitude, as librosa.feature.spectral_*.
    weights = magnitude / np.maximum(magnitude.sum(axis=0, keepdims=True), np.finfo(np.float32).tiny)
    centroid = (freqs[:, None] * weights).sum(axis=0)
    bandwidth = np.sqrt((weights * (freqs[:, None] - centroid[None, :]) ** 2).sum(axis=0))
    rms = librosa.feature.rms(S=magnitude, frame_length=config.n_fft, hop_length=config.hop_length)[0]
    zcr = zero_crossing_rate(samples, frame_length=config.n_fft, hop_length=config.hop_length)

    mfcc_mean = mfcc.mean(axis=1)
    result = {
        "rf": np.concatenate([mfcc_mean, mfcc.std(axis=1)]),
        "spectral": np.concatenate([mfcc_mean, chroma.mean(axis=1), mel.mean(axis=1)]),
        "vector": np.concatenate(
            [
                mfcc_mean,
                delta.std(axis=1),
                delta2.std(axis=1),
                chroma.mean(axis=1),
                log_mel.mean(axis=1),
                [centroid.mean(), bandwidth.mean(), zcr.mean(), rms.mean()],
            ]
        ),
    }
    descriptors = np.vstack(
        [
            mfcc[:20],
            20 * np.log10(np.maximum(rms, 1e-5))[None, :],
            zcr[None, :],
            centroid[None, :] / 1000.0,
            bandwidth[None, :] / 1000.0,
        ]
    )  # (24, T)
    result["va"] = summary_statistics(descriptors)
    result = {k: np.nan_to_num(v.astype(np.float32)) for k, v in result.items()}
    if with_logmel:
        result["logmel"] = trim_silence(log_mel, power.sum(axis=0), config).astype(np.float16)
    return result


def summary_statistics(frames: np.ndarray) -> np.ndarray:
    """Mean, median, std, max and min over time of ``(D, T)`` frames → ``(5 * D,)``, statistic-major."""
    frames = np.asarray(frames, dtype=np.float64)
    return np.concatenate(
        [
            frames.mean(axis=1),
            np.median(frames, axis=1),
            frames.std(axis=1),
            frames.max(axis=1),
            frames.min(axis=1),
        ]
    )


def trim_silence(log_mel: np.ndarray, frame_power: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """Drop leading/trailing frames more than ``trim_top_db`` below the loudest; cap the length."""
    db = 10 * np.log10(np.maximum(frame_power, 1e-12))
    loud = np.flatnonzero(db > db.max() - config.trim_top_db)
    start, stop = (loud[0], loud[-1] + 1) if loud.size else (0, log_mel.shape[1])
    trimmed = log_mel[:, start:stop]
    if trimmed.shape[1] > config.max_logmel_frames:
        offset = (trimmed.shape[1] - config.max_logmel_frames) // 2
        trimmed = trimmed[:, offset : offset + config.max_logmel_frames]
    return trimmed


def fit_frames(log_mel: np.ndarray, frames: int = 128, *, offset: int | None = None) -> np.ndarray:
    """A ``(n_mels, frames)`` image: centre crop (or crop at ``offset``) or pad with the minimum."""
    log_mel = np.asarray(log_mel, dtype=np.float32)
    n = log_mel.shape[1]
    if n >= frames:
        start = (n - frames) // 2 if offset is None else int(np.clip(offset, 0, n - frames))
        return log_mel[:, start : start + frames]
    pad = frames - n
    left = pad // 2
    fill = float(log_mel.min()) if log_mel.size else -80.0
    return np.pad(log_mel, ((0, 0), (left, pad - left)), constant_values=fill)


def augment_audio(samples: np.ndarray, variant: str, seed: int, sampling_rate: int) -> np.ndarray:
    """A training-only copy of a clip: ``noise`` (white noise at 15-30 dB SNR) or ``shift``.

    ``shift`` moves the signal by up to ±0.5 s, filling with silence (not wrapping around).
    """
    rng = np.random.default_rng(seed)
    if variant == "noise":
        snr_db = rng.uniform(15.0, 30.0)
        power = float(np.mean(samples**2)) + 1e-12
        noise = rng.standard_normal(samples.shape).astype(np.float32)
        return samples + noise * np.float32(np.sqrt(power / 10 ** (snr_db / 10)))
    if variant == "shift":
        limit = min(int(0.5 * sampling_rate), samples.shape[0] // 4)
        shift = int(rng.integers(-limit, limit + 1)) if limit > 0 else 0
        out = np.zeros_like(samples)
        if shift >= 0:
            out[shift:] = samples[: samples.shape[0] - shift]
        else:
            out[:shift] = samples[-shift:]
        return out
    raise ValueError(f"unknown augmentation {variant!r}; known: {', '.join(AUGMENTATIONS)}")


# --------------------------------------------------------------------------- one file, cached


def _file_seed(path: str) -> int:
    return int(hashlib.sha256(os.path.abspath(path).encode()).hexdigest()[:8], 16)


def _extract_one(
    task: tuple[str, FeatureConfig, tuple[str, ...], str],
) -> tuple[str, dict | None, dict | None]:
    """Worker: features of one file for every requested variant, read from or written to the cache.

    Returns ``(path, {variant: features}, None)`` or ``(path, None, bad_file_dict)``;
    the features dict carries ``"_computed"`` = number of variants computed (cache misses).
    """
    path, config, variants, root = task
    out, computed = {}, 0
    samples = None
    for variant in variants:
        target = cache_path(path, config, variant, Path(root))
        if target.exists():
            try:
                with np.load(target) as stored:
                    out[variant] = {k: stored[k] for k in stored.files}
                continue
            except (OSError, ValueError, EOFError):
                logger.warning("feature cache file %s is unreadable; recomputing", target)
        if samples is None:
            try:
                samples = decode_audio(path, config.sampling_rate)
            except AudioDecodeError as error:
                return path, None, {"path": error.path, "reason": error.reason, "detail": error.detail}
        signal = (
            samples
            if variant == "clean"
            else augment_audio(samples, variant, _file_seed(path), config.sampling_rate)
        )
        features = compute_features(signal, config, with_logmel=variant == "clean")
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(temporary, **features)
        os.replace(temporary, target)
        out[variant] = features
        computed += 1
    out["_computed"] = computed
    return path, out, None


def extract_features(
    paths: Sequence[str],
    config: FeatureConfig | None = None,
    *,
    augmentations: Sequence[str] = (),
    with_logmel: bool = True,
    n_jobs: int | None = None,
    cache_dir: str | os.PathLike | None = None,
    desc: str = "Extracting features",
) -> FeatureTable:
    """Features of many files, from the cache where possible, in ``n_jobs`` processes.

    Args:
        paths: audio files.
        config: analysis settings (defaults: 16 kHz, 1024-point FFT, hop 256).
        augmentations: augmented variants to compute too (see :data:`AUGMENTATIONS`).
        with_logmel: keep the log-mel spectrograms (for the 2-D CNN).
        n_jobs: worker processes (default: ``os.cpu_count()``; 1 runs in this process).
        cache_dir: cache folder (default :func:`cache_root`).

    Returns:
        A :class:`FeatureTable`; files that fail to decode are logged by name and listed in
        ``skipped`` (path, reason, detail), never silently dropped.
    """
    from tqdm.auto import tqdm

    config = config or FeatureConfig()
    for variant in augmentations:
        if variant not in AUGMENTATIONS:
            raise ValueError(f"unknown augmentation {variant!r}; known: {', '.join(AUGMENTATIONS)}")
    root = cache_root(cache_dir)
    root.mkdir(parents=True, exist_ok=True)
    variants = ("clean", *augmentations)
    tasks = [(str(p), config, variants, str(root)) for p in paths]
    n_jobs = max(1, min(n_jobs or os.cpu_count() or 1, len(tasks) or 1))
    results: list[tuple] = []
    progress = dict(total=len(tasks), desc=desc, unit="clip", disable=None)
    if n_jobs == 1:
        results = [_extract_one(task) for task in tqdm(tasks, **progress)]
    else:
        # spawn, not fork: the parent may hold torch/OpenMP threads that do not survive a fork.
        with ProcessPoolExecutor(n_jobs, mp_context=get_context("spawn")) as pool:
            results = list(tqdm(pool.map(_extract_one, tasks, chunksize=8), **progress))

    table = FeatureTable(paths=[], indices=[], vectors={}, logmel=[] if with_logmel else None)
    columns: dict[str, dict[str, list]] = {v: {k: [] for k in VECTOR_KEYS} for v in variants}
    computed = 0
    for index, (path, features, bad) in enumerate(results):
        if bad is not None:
            table.skipped.append(bad)
            continue
        computed += features.pop("_computed")
        table.paths.append(path)
        table.indices.append(index)
        for variant in variants:
            for key in VECTOR_KEYS:
                columns[variant][key].append(features[variant][key])
        if with_logmel:
            table.logmel.append(features["clean"]["logmel"])
    EXTRACTION_COUNTER["computed"] += computed
    EXTRACTION_COUNTER["cached"] += (
        len(results) * len(variants) - len(table.skipped) * len(variants) - computed
    )
    width = {k: DIMENSIONS[k] for k in VECTOR_KEYS}
    stacked = {
        v: {k: np.stack(c) if c else np.zeros((0, width[k]), np.float32) for k, c in cols.items()}
        for v, cols in columns.items()
    }
    table.vectors = stacked["clean"]
    table.augmented = {v: stacked[v] for v in augmentations}
    if table.skipped:
        logger.warning(
            "Skipped %d unusable audio files:\n%s",
            len(table.skipped),
            "\n".join(f"  {b['path']}: {b['detail']}" for b in table.skipped),
        )
    logger.info(
        "Features of %d clips (%d variant files computed, the rest from the cache %s)",
        len(table.paths),
        computed,
        root,
    )
    return table


__all__ = [
    "AUGMENTATIONS",
    "DIMENSIONS",
    "EXTRACTION_COUNTER",
    "FeatureConfig",
    "FeatureTable",
    "augment_audio",
    "cache_root",
    "compute_features",
    "extract_features",
    "fit_frames",
    "summary_statistics",
]
