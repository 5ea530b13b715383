"""The small training loop the two CNN baselines share: Adam, early stopping on validation speakers.

The best epoch (highest validation UA, ties broken by lower validation loss) is kept and
restored; training stops after ``patience`` epochs without improvement. Validation clips
come from the validation speakers of the split, never from the test speakers.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

logger = logging.getLogger(__name__)


@dataclass
class TrainingHistory:
    train_loss: list[float] = field(default_factory=list)
    validation_loss: list[float] = field(default_factory=list)
    validation_ua: list[float] = field(default_factory=list)
    best_epoch: int = 0


def set_threads() -> None:
    """Keep torch within the two cores this project shares."""
    import torch

    torch.set_num_threads(min(2, torch.get_num_threads()))


def predict_proba(model, inputs: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Softmax probabilities ``(N, C)`` of a classifier over a float array ``(N, ...)``."""
    import torch

    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(inputs), batch_size):
            batch = torch.from_numpy(
                np.ascontiguousarray(inputs[start : start + batch_size], dtype=np.float32)
            )
            out.append(torch.softmax(model(batch), dim=-1).numpy())
    return np.concatenate(out) if out else np.zeros((0, 0))


def train_classifier(
    model,
    make_train_batch: Callable[[np.ndarray, np.random.Generator], np.ndarray],
    train_labels: np.ndarray,
    validation_inputs: np.ndarray,
    validation_labels: np.ndarray,
    *,
    num_labels: int,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    patience: int,
    seed: int,
    desc: str,
) -> TrainingHistory:
    """Train ``model`` (logits ``(B, C)``) with class-weighted cross-entropy; restore the best epoch.

    Args:
        make_train_batch: ``(indices, rng) -> inputs`` for training rows (where augmentation
            happens; validation inputs are never augmented).
    """
    import torch
    from sklearn.metrics import balanced_accuracy_score
    from tqdm.auto import tqdm

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    counts = np.bincount(train_labels, minlength=num_labels).astype(np.float64)
    # Balanced class weights (absent classes get 0) so UA, not WA, is what training pushes.
    weights = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / max((counts > 0).sum(), 1), 0.0)
    loss_fn = torch.nn.CrossEntropyLoss(weight=torch.tensor(weights, dtype=torch.float32))
    optimiser = torch.optim.Adam(model.parameters(), lr=learning_rate)
    history = TrainingHistory()
    best_state, best_key, stale = None, None, 0
    y_val = torch.from_numpy(validation_labels.astype(np.int64))
    for epoch in tqdm(range(epochs), desc=desc, unit="epoch", disable=None):
        model.train()
        order = rng.permutation(len(train_labels))
        total, seen = 0.0, 0
        for start in range(0, len(order), batch_size):
            index = order[start : start + batch_size]
            inputs = torch.from_numpy(np.ascontiguousarray(make_train_batch(index, rng), dtype=np.float32))
            targets = torch.from_numpy(train_labels[index].astype(np.int64))
            optimiser.zero_grad()
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(index)
            seen += len(index)
        history.train_loss.append(total / max(seen, 1))
        probabilities = predict_proba(model, validation_inputs)
        with torch.no_grad():
            val_loss = float(loss_fn(torch.log(torch.from_numpy(probabilities).clamp_min(1e-8)), y_val))
        val_ua = float(balanced_accuracy_score(validation_labels, probabilities.argmax(axis=1)))
        history.validation_loss.append(val_loss)
        history.validation_ua.append(val_ua)
        logger.debug(
            "epoch %d: train loss %.3f, val loss %.3f, val UA %.3f",
            epoch,
            history.train_loss[-1],
            val_loss,
            val_ua,
        )
        key = (val_ua, -val_loss)
        if best_key is None or key > best_key:
            best_key, best_state, stale = key, copy.deepcopy(model.state_dict()), 0
            history.best_epoch = epoch
        else:
            stale += 1
            if stale >= patience:
                logger.info(
                    "early stopping after epoch %d (best %d, val UA %.3f)",
                    epoch,
                    history.best_epoch,
                    best_key[0],
                )
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    return history


def plot_history(history: TrainingHistory, path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    epochs = np.arange(1, len(history.train_loss) + 1)
    left.plot(epochs, history.train_loss, label="train")
    left.plot(epochs, history.validation_loss, label="validation speakers")
    left.axvline(history.best_epoch + 1, color="grey", ls="--", lw=0.8)
    left.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    left.legend()
    right.plot(epochs, history.validation_ua, color="tab:green")
    right.axvline(history.best_epoch + 1, color="grey", ls="--", lw=0.8)
    right.set(xlabel="epoch", ylabel="UA", title="validation UA")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
