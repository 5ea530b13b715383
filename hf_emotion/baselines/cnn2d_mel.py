"""cnn2d-mel: a 2-D CNN on 128×128 log-mel spectrograms.

Input: the silence-trimmed 128-band log-mel spectrogram (16 kHz, 1024-point FFT, hop 256 =
16 ms) of :mod:`baselines.features`, centre-cropped or padded to 128 frames (2.05 s), in dB
standardised by the training set's mean and std. Three conv blocks (32-64-128 channels,
3×3, batch norm, ReLU, 2×2 max-pool; the first conv has stride 2 to keep CPU training
cheap), dropout, global average pooling and a dense head.

Training-only augmentation, drawn afresh every epoch, in the spectrogram domain so that it
costs nothing to recompute: *time stretch* by a factor in [0.8, 1.25] (the frame axis is
resampled by linear interpolation, what a phase-vocoder stretch does to the magnitudes),
and *pitch shift* by up to ±2 semitones (the mel axis is re-read at frequencies scaled by
2^(n/12), moving harmonics as a resampling pitch shift would), plus a random crop position.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .common import FoldData, SystemOutput
from .features import FeatureConfig, fit_frames
from .persistence import save_torch
from .torch_training import plot_history, predict_proba, set_threads, train_classifier

logger = logging.getLogger(__name__)

FEATURE_KEY = "logmel"
FRAMES = 128
DEFAULTS = {"epochs": 30, "batch_size": 32, "learning_rate": 1e-3, "patience": 6}
STRETCH_RANGE = (0.8, 1.25)
MAX_SEMITONES = 2.0


def build_model(num_labels: int = 8, dropout: float = 0.3):
    """(B, 128, 128) → logits (B, num_labels)."""
    import torch
    from torch import nn

    def block(c_in, c_out, stride=1):
        return nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1),
            nn.BatchNorm2d(c_out),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )

    class Cnn2dMel(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                block(1, 32, stride=2),  # (B, 32, 32, 32)
                block(32, 64),  # (B, 64, 16, 16)
                block(64, 128),  # (B, 128, 8, 8)
                nn.Dropout(dropout),
            )
            self.head = nn.Sequential(
                nn.Linear(128, 64), nn.ReLU(), nn.Dropout(dropout), nn.Linear(64, num_labels)
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.features(x.unsqueeze(1))  # (B, 1, 128, 128) → (B, 128, 8, 8)
            return self.head(x.mean(dim=(2, 3)))

    return Cnn2dMel()


def mel_frequencies(config: FeatureConfig | None = None) -> np.ndarray:
    import librosa

    config = config or FeatureConfig()
    return librosa.mel_frequencies(n_mels=config.n_mels, fmax=config.sampling_rate / 2)


def time_stretch(log_mel: np.ndarray, rate: float) -> np.ndarray:
    """Resample the frame axis: ``rate`` > 1 is faster (fewer frames)."""
    n = log_mel.shape[1]
    new = max(2, int(round(n / rate)))
    positions = np.linspace(0, n - 1, new)
    low = np.floor(positions).astype(int)
    high = np.minimum(low + 1, n - 1)
    weight = positions - low
    return log_mel[:, low] * (1 - weight) + log_mel[:, high] * weight


def pitch_shift(log_mel: np.ndarray, semitones: float, centres: np.ndarray) -> np.ndarray:
    """Move energy along the mel axis as if every frequency were scaled by 2^(semitones/12)."""
    source = centres / 2 ** (semitones / 12)  # the band that lands on each centre
    out = np.empty_like(log_mel)
    floor = float(log_mel.min())
    for t in range(log_mel.shape[1]):
        out[:, t] = np.interp(source, centres, log_mel[:, t], left=floor, right=floor)
    return out


def augment(log_mel: np.ndarray, rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
    log_mel = np.asarray(log_mel, dtype=np.float32)
    log_mel = time_stretch(log_mel, float(np.exp(rng.uniform(*np.log(STRETCH_RANGE)))))
    log_mel = pitch_shift(log_mel, float(rng.uniform(-MAX_SEMITONES, MAX_SEMITONES)), centres)
    n = log_mel.shape[1]
    offset = int(rng.integers(0, n - FRAMES + 1)) if n > FRAMES else None
    return fit_frames(log_mel, FRAMES, offset=offset)


def images(log_mels) -> np.ndarray:
    """Centre 128×128 images ``(N, 128, 128)`` of variable-length log-mels."""
    return (
        np.stack([fit_frames(m, FRAMES) for m in log_mels]) if len(log_mels) else np.zeros((0, 128, FRAMES))
    )


def _option(args, name):
    value = getattr(args, name, None)
    return DEFAULTS[name] if value is None else value


def fit_predict(fold: FoldData, output_dir: Path, args) -> SystemOutput:
    set_threads()
    train_images = images(fold.train.features)
    mean, std = float(train_images.mean()), float(train_images.std() + 1e-6)
    centres = mel_frequencies()
    log_mels = list(fold.train.features)

    def make_batch(index, rng):
        return (np.stack([augment(log_mels[i], rng, centres) for i in index]) - mean) / std

    model = build_model(len(fold.label_names))
    history = train_classifier(
        model,
        make_batch,
        fold.train.labels,
        (images(fold.validation.features) - mean) / std,
        fold.validation.labels,
        num_labels=len(fold.label_names),
        epochs=_option(args, "epochs"),
        batch_size=_option(args, "batch_size"),
        learning_rate=_option(args, "learning_rate"),
        patience=_option(args, "patience"),
        seed=fold.seed,
        desc="cnn2d-mel",
    )
    config = {
        "system": "cnn2d-mel",
        "frames": FRAMES,
        "label_names": fold.label_names,
        "input_mean": mean,
        "input_std": std,
        "best_epoch": history.best_epoch,
    }
    save_torch(model, config, output_dir)
    plot_history(history, output_dir / "training_curves.png", "cnn2d-mel")
    probabilities = predict_proba(model, (images(fold.test.features) - mean) / std)
    return SystemOutput(
        y_pred=probabilities.argmax(axis=1),
        probabilities=probabilities,
        extra_metrics={"best_epoch": history.best_epoch, "epochs_run": len(history.train_loss)},
    )
