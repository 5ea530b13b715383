"""cnn1d: a 1-D CNN over the 264-value feature vector of :mod:`baselines.features`.

Four convolutions (256-128-128-128 channels, kernel 5) with dropout and max-pools, then a
dense softmax layer, on the standardised vector read as a 1-channel sequence. The training
set is augmented with two audio-domain copies of every training clip (added white noise
at 15-30 dB SNR, and a time shift of up to ±0.5 s; see :func:`baselines.features.augment_audio`),
their features cached like the clean ones; each epoch draws one of the three versions of
every training clip at random (one pass over the clips per epoch, at a third of the cost
of stacking all copies). Validation and test clips are never augmented. Early stopping on the validation speakers.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .common import FoldData, SystemOutput
from .features import DIMENSIONS
from .persistence import save_torch
from .torch_training import plot_history, predict_proba, set_threads, train_classifier

logger = logging.getLogger(__name__)

FEATURE_KEY = "vector"
AUGMENTATIONS = ("noise", "shift")
DEFAULTS = {"epochs": 30, "batch_size": 64, "learning_rate": 1e-3, "patience": 6}


def build_model(input_length: int = DIMENSIONS["vector"], num_labels: int = 8, dropout: float = 0.2):
    """(B, input_length) → logits (B, num_labels)."""
    import torch
    from torch import nn

    class Cnn1d(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv1d(1, 256, 5, padding=2),  # (B, 256, L)
                nn.ReLU(),
                # Pooling here rather than after conv 2 costs ~3x less CPU for the same receptive field.
                nn.MaxPool1d(4),  # (B, 256, L // 4)
                nn.Conv1d(256, 128, 5, padding=2),  # (B, 128, L // 4)
                nn.ReLU(),
                nn.Dropout(dropout),
                nn.MaxPool1d(2),  # (B, 128, L // 8)
                nn.Conv1d(128, 128, 5, padding=2),
                nn.ReLU(),
                nn.Conv1d(128, 128, 5, padding=2),
                nn.ReLU(),
                nn.Dropout(dropout),
            )
            self.classifier = nn.Linear(128 * (input_length // 8), num_labels)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.features(x.unsqueeze(1))  # (B, 1, L) → (B, 128, L // 8)
            return self.classifier(x.flatten(1))

    return Cnn1d()


def _option(args, name):
    value = getattr(args, name, None)
    return DEFAULTS[name] if value is None else value


def fit_predict(fold: FoldData, output_dir: Path, args) -> SystemOutput:
    set_threads()
    train = fold.train
    # Standardise with statistics of the clean training clips only.
    mean = train.features.mean(axis=0)
    std = train.features.std(axis=0) + 1e-6
    variants = [train.features] + [train.augmented[v] for v in AUGMENTATIONS]
    stacked = (np.stack(variants) - mean) / std  # (1 + augmentations, N, 264)

    def make_batch(index, rng):
        # Each epoch sees every training clip once, as its clean, noisy or shifted copy.
        return stacked[rng.integers(0, len(variants), len(index)), index]

    model = build_model(stacked.shape[-1], len(fold.label_names))
    history = train_classifier(
        model,
        make_batch,
        train.labels,
        (fold.validation.features - mean) / std,
        fold.validation.labels,
        num_labels=len(fold.label_names),
        epochs=_option(args, "epochs"),
        batch_size=_option(args, "batch_size"),
        learning_rate=_option(args, "learning_rate"),
        patience=_option(args, "patience"),
        seed=fold.seed,
        desc="cnn1d",
    )
    config = {
        "system": "cnn1d",
        "input_length": int(stacked.shape[-1]),
        "label_names": fold.label_names,
        "feature_mean": mean.tolist(),
        "feature_std": std.tolist(),
        "best_epoch": history.best_epoch,
    }
    save_torch(model, config, output_dir)
    plot_history(history, output_dir / "training_curves.png", "cnn1d")
    probabilities = predict_proba(model, (fold.test.features - mean) / std)
    return SystemOutput(
        y_pred=probabilities.argmax(axis=1),
        probabilities=probabilities,
        extra_metrics={"best_epoch": history.best_epoch, "epochs_run": len(history.train_loss)},
    )
