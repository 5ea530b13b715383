"""Whether a model's probabilities mean what they say, and the temperature that makes them.

A fine-tuned classifier is often overconfident: "0.99" on clips it gets wrong. Temperature scaling
(Guo et al. 2017, "On Calibration of Modern Neural Networks") divides the logits by one number ``T``
chosen to minimise the negative log-likelihood on held-out (validation) speakers: the ranking of the
labels, and so UA, never changes; only how sure the model says it is. The recipe fits ``T``
(:mod:`hf_emotion.training.temperature`), the model's config keeps it, and every scorer applies it.

Two numbers say how well probabilities are calibrated on test speakers:

* ``ece``: expected calibration error, 15 equal-width confidence bins, the mean gap between a bin's
  confidence and its accuracy weighted by the clips in it (0: as sure as it is right);
* ``wrong_over_0.9``: of the clips whose top label is wrong, the share it gave more than 0.9.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.optimize import minimize_scalar

ECE_BINS = 15
CONFIDENT = 0.9
#: The temperatures searched (log-uniformly): beyond these a model is broken, not miscalibrated.
TEMPERATURE_RANGE = (0.05, 20.0)


def softmax_with_temperature(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """``softmax(logits / temperature)`` over the last axis, in float64."""
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    scaled -= scaled.max(axis=-1, keepdims=True)
    exponentials = np.exp(scaled)
    return exponentials / exponentials.sum(axis=-1, keepdims=True)


def negative_log_likelihood(logits: np.ndarray, labels: Sequence[int], temperature: float = 1.0) -> float:
    """Mean ``-log p(true label)`` of ``softmax(logits / temperature)``."""
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    top = scaled.max(axis=-1, keepdims=True)
    log_normaliser = top[:, 0] + np.log(np.exp(scaled - top).sum(axis=-1))
    labels = np.asarray(labels, dtype=int)
    return float(np.mean(log_normaliser - scaled[np.arange(len(labels)), labels]))


def fit_temperature(logits: np.ndarray, labels: Sequence[int]) -> float:
    """The temperature that minimises the negative log-likelihood of ``labels`` under
    ``softmax(logits / T)``: above 1 when the model was overconfident, below 1 when underconfident.

    Args:
        logits: ``(N, C)`` raw scores of the validation clips.
        labels: their ``N`` true class indices.

    Returns:
        ``T`` in :data:`TEMPERATURE_RANGE`; 1.0 when there are no clips to fit on.
    """
    logits = np.asarray(logits, dtype=np.float64)
    if not len(logits):
        return 1.0
    low, high = (math.log(t) for t in TEMPERATURE_RANGE)
    # The likelihood is convex in 1/T, so a bounded one-dimensional search finds its minimum.
    result = minimize_scalar(
        lambda log_t: negative_log_likelihood(logits, labels, math.exp(log_t)),
        bounds=(low, high),
        method="bounded",
        options={"xatol": 1e-5},
    )
    return float(math.exp(result.x))


def expected_calibration_error(
    probabilities: np.ndarray, labels: Sequence[int], *, bins: int = ECE_BINS
) -> float:
    """ECE: the clip-weighted mean, over equal-width bins of top-label confidence, of
    ``|accuracy - mean confidence|`` in the bin. NaN without clips."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if not len(probabilities):
        return math.nan
    confidence = probabilities.max(axis=-1)
    correct = probabilities.argmax(axis=-1) == np.asarray(labels, dtype=int)
    # Bin k holds confidences in (k / bins, (k + 1) / bins]; a confidence of exactly 0 joins the first.
    which = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    error = 0.0
    for k in np.unique(which):
        members = which == k
        error += members.sum() * abs(correct[members].mean() - confidence[members].mean())
    return float(error / len(probabilities))


def confident_error_share(
    probabilities: np.ndarray, labels: Sequence[int], *, threshold: float = CONFIDENT
) -> float:
    """Of the clips whose top label is wrong, the share given a probability above ``threshold``
    (NaN when none is wrong)."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    wrong = probabilities.argmax(axis=-1) != np.asarray(labels, dtype=int)
    if not wrong.any():
        return math.nan
    return float((probabilities.max(axis=-1)[wrong] > threshold).mean())


def calibration_metrics(logits: np.ndarray, labels: Sequence[int], temperature: float, prefix: str) -> dict:
    """``<prefix>_ece``, ``<prefix>_wrong_over_0.9`` and ``<prefix>_nll`` with the model's temperature, the
    same three ``..._before_temperature`` (at T = 1): a flat dict for the results."""
    metrics = {}
    for suffix, t in (("", temperature), ("_before_temperature", 1.0)):
        probabilities = softmax_with_temperature(logits, t)
        metrics[f"{prefix}_ece{suffix}"] = expected_calibration_error(probabilities, labels)
        metrics[f"{prefix}_wrong_over_{CONFIDENT:g}{suffix}"] = confident_error_share(probabilities, labels)
        metrics[f"{prefix}_nll{suffix}"] = (
            negative_log_likelihood(logits, labels, t) if len(logits) else math.nan
        )
    return metrics


__all__ = [
    "CONFIDENT",
    "ECE_BINS",
    "calibration_metrics",
    "confident_error_share",
    "expected_calibration_error",
    "fit_temperature",
    "negative_log_likelihood",
    "softmax_with_temperature",
]
