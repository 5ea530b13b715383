"""What a fold leaves on disk: predictions with their metrics and plots (the model card: ``hub``)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

import numpy as np
from transformers import Trainer

from .calibration import calibration_metrics, softmax_with_temperature
from .metrics import (
    classification_metrics,
    format_summary_markdown,
    plot_confusion_matrix,
    plot_valence_arousal,
    regression_metrics,
)
from .speaker_normalisation import speaker_normalize_scores

#: Model outputs that are not predictions: kept out of what the Trainer gathers at evaluation.
IGNORE_KEYS = ["classification_loss", "regression_loss", "hidden_states"]


def unpack_predictions(predictions) -> tuple[np.ndarray, np.ndarray]:
    """(logits, valence_arousal) from what the Trainer gathered."""
    if isinstance(predictions, (tuple, list)):
        return np.asarray(predictions[0]), np.asarray(predictions[1])
    return np.asarray(predictions), np.full((len(predictions), 2), np.nan)


class PredictOnce:
    """A dataset's predictions, made on first use and kept: class mixing and temperature scaling both fit on
    the validation clips' logits, which depend on neither's setting, so one pass serves both (the second pass
    took 3.9 s a fold on RAVDESS speech's 240 validation clips, 14-16 s on the general run's 744)."""

    def __init__(self, trainer: Trainer, dataset):
        self.trainer, self.dataset, self._output = trainer, dataset, None

    def __len__(self) -> int:
        return len(self.dataset)

    def output(self):
        """The Trainer's ``PredictionOutput`` (predictions, label_ids, metrics)."""
        if self._output is None:
            self._output = self.trainer.predict(
                self.dataset, metric_key_prefix="pass", ignore_keys=IGNORE_KEYS
            )
        return self._output


def predict_dataset(trainer: Trainer, dataset, label_names: Sequence[str], prefix: str) -> tuple[dict, dict]:
    """Evaluate on a dataset; returns (metrics with ``prefix``, predictions record).

    The record's probabilities are the model's as served: ``softmax(logits / config.temperature)``; the metrics
    add their calibration before and after the temperature (``<prefix>_ece``, ...; see ``calibration``).
    """
    output = trainer.predict(dataset, metric_key_prefix=prefix, ignore_keys=IGNORE_KEYS)
    logits, valence_arousal = unpack_predictions(output.predictions)
    labels, valence, arousal = (np.asarray(x) for x in output.label_ids)
    temperature = float(getattr(trainer.model.config, "temperature", None) or 1.0)
    probabilities = softmax_with_temperature(logits.astype(np.float32), temperature).astype(np.float32)
    record = {
        "label_names": list(label_names),
        "y_true": labels.astype(int).tolist(),
        "y_pred": logits.argmax(-1).astype(int).tolist(),
        "probabilities": np.round(probabilities, 5).tolist(),
        "valence_arousal_pred": np.round(valence_arousal, 5).tolist(),
        "valence_arousal_true": np.stack([valence, arousal], axis=1).round(5).tolist(),
        "speakers": list(dataset["speaker"]),
        "paths": list(dataset["audio"]),
    }
    if "corpus" in dataset.column_names:
        record["corpora"] = list(dataset["corpus"])
    metrics = dict(output.metrics) | calibration_metrics(logits, labels.astype(int), temperature, prefix)
    metrics |= _spknorm_metrics(probabilities, labels, record["speakers"], label_names, prefix)
    return metrics, record


def _spknorm_metrics(probabilities, labels, speakers, label_names: Sequence[str], prefix: str) -> dict:
    """Transductive, labelled as such: each test speaker's log-probabilities centred on their own mean."""
    log_probs = np.log(np.clip(np.asarray(probabilities, dtype=np.float64), 1e-12, None))
    normalized = speaker_normalize_scores(log_probs, speakers)
    return {
        f"{prefix}_spknorm_{key}": value
        for key, value in classification_metrics(labels, normalized.argmax(-1), label_names).items()
    }


def per_corpus_ua(record: dict, prefix: str = "eval") -> dict[str, float]:
    """``<prefix>_ua_<corpus>``: UA over each corpus's clips of a predictions record, when it holds several
    corpora (a model trained on several is judged on each, not only on their pooled, size-weighted mix)."""
    corpora = record.get("corpora")
    if not corpora or len(set(corpora)) < 2:
        return {}
    y_true, y_pred = np.asarray(record["y_true"]), np.asarray(record["y_pred"])
    which = np.asarray(corpora)
    return {
        f"{prefix}_ua_{corpus}": classification_metrics(
            y_true[which == corpus], y_pred[which == corpus], record["label_names"]
        )["ua"]
        for corpus in sorted(set(corpora))
    }


def record_metrics(record: dict, prefix: str = "eval") -> dict[str, float]:
    """The metrics of a predictions record (``predict_dataset``'s): those of ``compute_metrics``, and spknorm."""
    names = record["label_names"]
    probabilities = np.asarray(record["probabilities"], dtype=np.float64)
    metrics = classification_metrics(record["y_true"], probabilities.argmax(-1), names)
    metrics |= regression_metrics(record["valence_arousal_pred"], record["valence_arousal_true"])
    metrics = {f"{prefix}_{k}": v for k, v in metrics.items()}
    return metrics | _spknorm_metrics(probabilities, record["y_true"], record["speakers"], names, prefix)


def average_predictions(records: Sequence[dict], key=os.path.normpath) -> dict:
    """The equal-weight mean of several models' predictions records over the same clips: an ensemble's record.

    Probabilities and valence/arousal are averaged clip by clip, the clips matched by ``key(path)``
    (records saved in different orders, or with differently spelled paths, still line up); the result
    is in the first record's order. A ``ValueError`` names what differs when the records are not over
    the same clips, labels and true answers.
    """
    first = records[0]
    keys = [key(p) for p in first["paths"]]
    if len(set(keys)) != len(keys):
        raise ValueError("two clips share a key; give a key that tells them apart")
    arrays = {"probabilities": [], "valence_arousal_pred": []}
    for number, record in enumerate(records, start=1):
        if record["label_names"] != first["label_names"]:
            raise ValueError(
                f"record {number} has labels {record['label_names']}, record 1 {first['label_names']}"
            )
        index = {key(p): i for i, p in enumerate(record["paths"])}
        if set(index) != set(keys) or len(index) != len(record["paths"]):
            raise ValueError(f"record {number} is not over the same clips as record 1")
        rows = [index[k] for k in keys]
        if np.asarray(record["y_true"])[rows].tolist() != list(first["y_true"]):
            raise ValueError(f"record {number} has other true labels for the same clips than record 1")
        for name, values in arrays.items():
            values.append(np.asarray(record[name], dtype=np.float64)[rows])
    probabilities = np.mean(arrays["probabilities"], axis=0)
    valence_arousal = np.mean(arrays["valence_arousal_pred"], axis=0)
    return first | {
        "y_pred": probabilities.argmax(-1).astype(int).tolist(),
        "probabilities": probabilities.tolist(),
        "valence_arousal_pred": valence_arousal.tolist(),
    }


def save_predictions(record: dict, output_dir: str, title: str = "") -> None:
    """predictions.json plus the confusion matrix and valence/arousal plots of one evaluation."""
    with open(os.path.join(output_dir, "predictions.json"), "w") as handle:
        json.dump(record, handle)
    plot_confusion_matrix(
        record["y_true"],
        record["y_pred"],
        record["label_names"],
        os.path.join(output_dir, "confusion_matrix.png"),
        title=title,
    )
    plot_valence_arousal(
        record["valence_arousal_pred"],
        record["valence_arousal_true"],
        record["y_true"],
        record["label_names"],
        os.path.join(output_dir, "valence_arousal.png"),
    )


def save_cv_summary(
    output_dir: str,
    fold_metrics: Sequence[dict],
    fold_records: Sequence[dict],
    summary: dict,
    means: dict,
    *,
    label_names: Sequence[str],
    title: str,
    keys: Sequence[str],
) -> None:
    """What a cross-validation leaves beside its folds: cv_summary.json (every fold's metrics and their
    summary), cv_summary.md (the table of ``keys``), all_results.json (``means``) and the confusion matrix of
    every fold's test clips pooled (``fold_records``: each fold's predictions record)."""
    with open(os.path.join(output_dir, "cv_summary.json"), "w") as handle:
        json.dump({"folds": list(fold_metrics), "summary": summary}, handle, indent=2)
    with open(os.path.join(output_dir, "cv_summary.md"), "w") as handle:
        handle.write(format_summary_markdown(summary, title, keys))
    with open(os.path.join(output_dir, "all_results.json"), "w") as handle:
        json.dump(means, handle, indent=2)
    plot_confusion_matrix(
        [y for record in fold_records for y in record["y_true"]],
        [y for record in fold_records for y in record["y_pred"]],
        label_names,
        os.path.join(output_dir, "confusion_matrix.png"),
        title=f"all {len(fold_records)} folds pooled",
    )
