"""Temperature scaling: the model's probabilities made to mean what they say, on the validation speakers.

Fitted after the heads are chosen and the class mixing is set (both change the logits or read them), from
one prediction pass over the validation clips; :func:`hf_emotion.evaluation.calibration.fit_temperature` is
the fit itself. The temperature is stored in the model's config, so every scorer, the saved pipeline and the
exports apply it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
from transformers import Trainer

from ..evaluation.calibration import fit_temperature, negative_log_likelihood
from ..evaluation.reports import IGNORE_KEYS, unpack_predictions

logger = logging.getLogger(__name__)


def fit_temperature_scaling(trainer: Trainer, validation_dataset) -> dict[str, float]:
    """Sets ``trainer.model.config.temperature`` to the one that minimises the validation clips' negative
    log-likelihood, and returns ``{"temperature": T}`` for the run's metrics (the evaluation reports the NLL and
    ECE before and after). With fewer than 2 validation clips the temperature stays 1."""
    config = trainer.model.config
    config.temperature = 1.0  # the logits are predicted untempered: the fit starts from the model's own
    if len(validation_dataset) < 2:
        logger.info("Temperature scaling: fewer than 2 validation clips to fit on; temperature stays 1")
        return {"temperature": 1.0}
    output = trainer.predict(validation_dataset, metric_key_prefix="temperature", ignore_keys=IGNORE_KEYS)
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
