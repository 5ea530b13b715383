"""Valence/arousal from the classes: mix the classifier's expected class coordinates into the regressor's output."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch

from ..evaluation.metrics import ccc
from ..evaluation.reports import PredictOnce, unpack_predictions

logger = logging.getLogger(__name__)

CLASS_MIXING_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)


def class_mean_targets(dataset, num_labels: int, targets: Sequence[str]) -> list[list[float]] | None:
    """Each class's mean of the training clips' ``targets`` (``valence``, ``arousal`` columns): ``(C, R)``.

    For the proxy targets of RAVDESS and CREMA-D this is the class's circumplex coordinate (arousal averaged
    over the recorded intensities); with real annotations, where the class's clips lie on average. ``None``
    when a class has no clip with finite targets.
    """
    labels = np.asarray(dataset["emotion"])
    values = np.stack([np.asarray(dataset[name], dtype=np.float64) for name in targets], axis=1)
    means = []
    for label in range(num_labels):
        rows = values[(labels == label) & np.isfinite(values).all(axis=1)]
        if not len(rows):
            return None
        means.append(rows.mean(axis=0).round(5).tolist())
    return means


def choose_class_mixing(
    probabilities: np.ndarray,
    valence_arousal: np.ndarray,
    targets: np.ndarray,
    class_valence_arousal: Sequence[Sequence[float]],
    weights: Sequence[float] = CLASS_MIXING_WEIGHTS,
) -> tuple[list[float], np.ndarray]:
    """Per target, the weight of the class expectation that gives the highest CCC on these (validation) clips.

    The candidates are ``(1 - w) * valence_arousal + w * probabilities @ class_valence_arousal`` for each
    ``w`` in ``weights``; a tie keeps the smaller weight (the regressor alone, first). Returns the weights and
    the ``(len(weights), R)`` CCC table they were chosen from.
    """
    expected = np.asarray(probabilities, dtype=np.float64) @ np.asarray(
        class_valence_arousal, dtype=np.float64
    )
    regressed = np.asarray(valence_arousal, dtype=np.float64)
    scores = np.array(
        [
            [
                ccc((1 - w) * regressed[:, j] + w * expected[:, j], targets[:, j])
                for j in range(regressed.shape[1])
            ]
            for w in weights
        ]
    )
    chosen = [
        float(weights[int(np.argmax(np.nan_to_num(scores[:, j], nan=-np.inf)))])
        for j in range(scores.shape[1])
    ]
    return chosen, scores


def fit_class_mixing(config, train_dataset, validation: PredictOnce) -> dict[str, float]:
    """Sets ``class_valence_arousal`` and ``valence_arousal_class_weight`` of the model's ``config``.

    The class coordinates are the training clips' mean targets; the weight of each target is chosen by CCC on
    the validation clips (``validation``'s prediction pass, made with the regressor alone). Returns the chosen
    weights, the validation CCC they give and the regressor's own, for the run's metrics. Without targets (a
    dataset with no valence/arousal) or with fewer than 2 validation clips, the model keeps the regressor alone
    and the result is empty.
    """
    names = list(config.regression_targets)
    config.valence_arousal_class_weight = None  # before the pass: it reads the regressor unmixed
    coordinates = class_mean_targets(train_dataset, config.num_labels, names)
    if coordinates is None or len(validation) < 2:
        logger.info(
            "Valence/arousal: no class coordinates or validation clips to choose a mixing on; regressor only"
        )
        return {}
    output = validation.output()
    logits, regressed = unpack_predictions(output.predictions)
    targets = np.stack(
        [np.asarray(output.label_ids[1 + ("valence", "arousal").index(n)]) for n in names], axis=1
    )
    probabilities = torch.softmax(torch.from_numpy(logits.astype(np.float32)), dim=-1).numpy()
    weights, scores = choose_class_mixing(probabilities, regressed, targets, coordinates)
    config.class_valence_arousal, config.valence_arousal_class_weight = coordinates, weights
    result = {}
    for j, name in enumerate(names):
        best = CLASS_MIXING_WEIGHTS.index(weights[j])
        logger.info(
            "Valence/arousal: %s mixes in the class expectation with weight %.2f (validation CCC %.3f; "
            "regressor alone %.3f)",
            name,
            weights[j],
            scores[best, j],
            scores[0, j],
        )
        result[f"class_mixing_weight_{name}"] = weights[j]
        result[f"validation_ccc_{name}"] = float(scores[best, j])
        result[f"validation_ccc_{name}_regressor"] = float(scores[0, j])
    return result
