"""Temperature scaling: the model's probabilities made to mean what they say, on the validation speakers.

Fitted after the heads are chosen (they make the logits), from the validation clips' prediction pass that
class mixing also reads; :func:`hf_emotion.evaluation.calibration.fit_temperature` is
the fit itself. The temperature is stored in the model's config, so every scorer, the saved pipeline and the
exports apply it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np

from ..evaluation.calibration import fit_temperature, negative_log_likelihood
from ..evaluation.reports import PredictOnce, unpack_predictions

logger = logging.getLogger(__name__)


def fit_temperature_scaling(config, validation: PredictOnce) -> dict[str, float]:
    """Sets the model's ``config.temperature`` to the one that minimises the validation clips' negative
    log-likelihood (their logits from ``validation``'s pass: the model's own, untempered), and returns
    ``{"temperature": T}`` for the run's metrics (the evaluation reports the NLL and ECE before and after).
    With fewer than 2 validation clips the temperature stays 1."""
    config.temperature = 1.0
    if len(validation) < 2:
        logger.info("Temperature scaling: fewer than 2 validation clips to fit on; temperature stays 1")
        return {"temperature": 1.0}
    output = validation.output()
    logits, _ = unpack_predictions(output.predictions)
    labels = np.asarray(output.label_ids[0]).astype(int)
    temperature = fit_temperature(logits, labels)
    config.temperature = temperature
    before, after = (
        negative_log_likelihood(logits, labels),
        negative_log_likelihood(logits, labels, temperature),
    )
    logger.info(
        "Temperature scaling: T = %.3f on %d validation clips (NLL %.3f → %.3f; T > 1: it was overconfident)",
        temperature,
        len(labels),
        before,
        after,
    )
    return {"temperature": temperature}


def mean_temperature(fold_metrics: Sequence[Mapping]) -> float:
    """The final model's temperature: the geometric mean of the folds' (a scale: 0.5 and 2 average to 1);
    1 when no fold fitted one."""
    values = [float(m["temperature"]) for m in fold_metrics if m.get("temperature")]
    return float(np.exp(np.mean(np.log(values)))) if values else 1.0
