"""Scoring a model on a corpus whose labels differ from its own.

A model trained on RAVDESS knows ``calm``; CREMA-D has no calm clips, and TESS has
``surprised`` that a CREMA-D model never learnt. Cross-corpus papers score the labels both
sides share: the model's arg-max is taken over those labels only (its probability for a
label the corpus lacks can then not steal a clip), clips of labels the model cannot predict
are left out, and UA is the mean recall over the shared labels. :func:`match_labels` says
which labels each side loses, so every reported number names what it covers.

Clips are scored through :meth:`hf_emotion.serving.recognizer.EmotionRecognizer.score`, so any model
a recognizer loads (an ensemble, another runtime) is scored the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from tqdm.auto import tqdm

logger = logging.getLogger(__name__)

# Degrades one clip: (samples, index of the clip in the dataset) -> samples.
ClipTransform = Callable[[np.ndarray, int], np.ndarray]


@dataclass(frozen=True)
class LabelMatch:
    """Which labels are scored, and which each side loses."""

    labels: list[str]  # scored: the model's arg-max runs over these, UA averages over them
    model_only: list[str]  # the model predicts them, the scored clips have none: out of the arg-max
    corpus_only: list[str]  # the corpus has them, the model cannot predict them: their clips are left out

    def as_dict(self) -> dict[str, list[str]]:
        return asdict(self)


def match_labels(
    model_labels: Sequence[str], corpus_labels: Sequence[str], subset: Sequence[str] | None = None
) -> LabelMatch:
    """The labels a model and a corpus share (or ``subset`` of them), in the model's order.

    Raises:
        ValueError: a ``subset`` label missing on one side (naming the side), or fewer than two labels to
            score (over one label every clip is right: UA 1.0 for any model).
    """
    model, corpus = list(model_labels), list(corpus_labels)
    if subset is not None and len(set(subset)) < 2:
        raise ValueError(
            f"--labels {','.join(subset)}: give at least two labels (over one label every clip is scored right, "
            "UA 1.0 for any model)"
        )
    if subset:
        for side, names in (("the model", model), ("the corpus", corpus)):
            absent = [label for label in subset if label not in names]
            if absent:
                raise ValueError(
                    f"--labels {','.join(subset)}: {absent} not among the labels of {side} ({names}); "
                    "choose labels both have"
                )
        wanted = set(subset)
    else:
        wanted = set(model) & set(corpus)
    if not wanted:
        raise ValueError(f"the model's labels {model} and the corpus's {corpus} have none in common")
    if len(wanted) < 2:
        raise ValueError(
            f"the model's labels {model} and the corpus's {corpus} share only {sorted(wanted)}: over one label "
            "every clip is scored right (UA 1.0 for any model), so there is nothing to measure"
        )
    labels = [label for label in model if label in wanted]
    return LabelMatch(
        labels=labels,
        model_only=[label for label in model if label not in wanted],
        corpus_only=[label for label in corpus if label not in wanted],
    )


def restricted_probabilities(
    probabilities: np.ndarray, model_labels: Sequence[str], labels: Sequence[str]
) -> np.ndarray:
    """``(N, len(labels))``: the model's probabilities of ``labels`` only, renormalised to sum to 1."""
    columns = [list(model_labels).index(label) for label in labels]
    kept = np.asarray(probabilities, dtype=np.float64)[:, columns]
    return kept / np.clip(kept.sum(axis=1, keepdims=True), 1e-12, None)


def score_clips(
    recognizer,
    signals: Sequence[np.ndarray],
    *,
    batch_size: int = 8,
    transform: ClipTransform | None = None,
    description: str = "Scoring clips",
) -> tuple[np.ndarray, np.ndarray]:
    """The recognizer's ``(probabilities, regression outputs)`` for each signal, ``transform`` applied first.

    Clips are scored in chunks, so a progress bar moves and a transform's copies do not all
    sit in memory at once.
    """
    chunk = max(batch_size * 8, 1)
    probabilities, regression = [], []
    for start in tqdm(range(0, len(signals), chunk), desc=description, unit="chunk"):
        batch = [np.asarray(s, dtype=np.float32) for s in signals[start : start + chunk]]
        if transform is not None:
            batch = [transform(s, start + i).astype(np.float32) for i, s in enumerate(batch)]
        p, r = recognizer.score(batch, batch_size=batch_size)
        probabilities.append(p)
        regression.append(r)
    return np.concatenate(probabilities), np.concatenate(regression)


def valence_arousal_columns(regression: np.ndarray, targets: Sequence[str]) -> np.ndarray:
    """``(N, 2)`` valence and arousal from a recognizer's regression outputs (NaN where it has none)."""
    columns = [
        regression[:, list(targets).index(name)] if name in targets else np.full(len(regression), np.nan)
        for name in ("valence", "arousal")
    ]
    return np.stack(columns, axis=1)


def corpus_signals(dataset, sampling_rate: int, max_seconds: float | None = None) -> list[np.ndarray]:
    """The decoded clips (``input_audio``), each cut to its first ``max_seconds`` as ``evaluate`` cuts them."""
    limit = int(max_seconds * sampling_rate) if max_seconds else None
    return [np.asarray(s, dtype=np.float32)[:limit] for s in dataset["input_audio"]]


def cross_corpus_record(
    recognizer,
    dataset,
    match: LabelMatch,
    signals: Sequence[np.ndarray],
    *,
    batch_size: int = 8,
    transform: ClipTransform | None = None,
) -> dict:
    """A predictions record (as ``hf_emotion.evaluation.reports.predict_dataset`` writes) over the shared labels.

    Args:
        recognizer: an ``EmotionRecognizer`` (or anything with its ``score``, ``labels``,
            ``sampling_rate`` and ``regression_targets``).
        dataset: the clips' table, whose ``emotion`` indexes ``match.labels``.
        match: from :func:`match_labels`.
        signals: the clips at the recognizer's rate (:func:`corpus_signals`).
        transform: degrades each clip before scoring (``hf_emotion.data.conditions``).
    """
    probabilities, regression = score_clips(recognizer, signals, batch_size=batch_size, transform=transform)
    kept = restricted_probabilities(probabilities, recognizer.labels, match.labels)
    return {
        "label_names": list(match.labels),
        "y_true": [int(i) for i in dataset["emotion"]],
        "y_pred": kept.argmax(axis=1).astype(int).tolist(),
        "probabilities": np.round(kept, 5).tolist(),
        "valence_arousal_pred": np.round(
            valence_arousal_columns(regression, recognizer.regression_targets), 5
        ).tolist(),
        "valence_arousal_true": np.stack([dataset["valence"], dataset["arousal"]], axis=1).round(5).tolist(),
        "speakers": list(dataset["speaker"]),
        "paths": list(dataset["audio"]),
    }


def restrict_dataset(dataset, match: LabelMatch):
    """Keep the clips of ``match.labels`` (logging how many go), their ``emotion`` re-indexed onto them."""
    names = dataset.features["emotion"].names
    index = {name: i for i, name in enumerate(match.labels)}
    before = len(dataset)
    dataset = dataset.filter(lambda e: names[e] in index, input_columns="emotion")
    if len(dataset) < before:
        logger.warning(
            "left out %d of %d clips whose labels %s are not scored (the model lacks them or --labels leaves them out)",
            before - len(dataset),
            before,
            match.corpus_only,
        )
    if not len(dataset):
        raise ValueError(f"no clips of the scored labels {match.labels} are in the data")
    import datasets

    features = dataset.features.copy()
    features["emotion"] = datasets.ClassLabel(names=list(match.labels))
    return dataset.map(
        lambda e: {"emotion": [index[names[i]] for i in e]},
        input_columns="emotion",
        batched=True,
        features=features,
    )


def evaluate_corpus(
    recognizer,
    decoded,
    *,
    labels: Sequence[str] | None = None,
    batch_size: int = 8,
    max_seconds: float | None = None,
    conditions: Sequence[str] = (),
) -> tuple[dict, dict]:
    """Score decoded clips over the labels model and corpus share, clean and under each condition.

    Args:
        recognizer: see :func:`cross_corpus_record`.
        decoded: ``hf_emotion.data.decode_cache.decode_dataset``'s output at the recognizer's rate.
        labels: a subset to score (e.g. the 4-class angry/happy/neutral/sad).
        conditions: specs of ``hf_emotion.data.conditions`` (``babble:10``, ``telephone``, ...).

    Returns:
        ``(metrics, record)``: ``eval_ua``/``eval_wa``/... over the scored labels, the labels
        dropped on each side, ``eval_<condition>_ua`` and ``ua_drop_<condition>`` per
        condition; and the clean predictions record.
    """
    from ..data.conditions import condition_key, make_condition
    from .reports import record_metrics

    match = match_labels(recognizer.labels, decoded.features["emotion"].names, labels)
    logger.info(
        "scoring labels %s; the model's %s are left out of its arg-max; the data's %s clips are left out",
        match.labels,
        match.model_only or "none",
        match.corpus_only or "no",
    )
    dataset = restrict_dataset(decoded, match)
    signals = corpus_signals(dataset, recognizer.sampling_rate, max_seconds)
    record = cross_corpus_record(recognizer, dataset, match, signals, batch_size=batch_size)
    metrics = record_metrics(record) | {
        "scored_labels": match.labels,
        "model_labels_dropped": match.model_only,
        "corpus_labels_dropped": match.corpus_only,
        "eval_clips": len(dataset),
    }
    for spec in conditions:
        transform = make_condition(
            spec, recognizer.sampling_rate, signals=signals, speakers=dataset["speaker"]
        )
        degraded = cross_corpus_record(
            recognizer, dataset, match, signals, batch_size=batch_size, transform=transform
        )
        key, scores = condition_key(spec), record_metrics(degraded)
        for name in ("ua", "wa", "macro_f1"):
            metrics[f"eval_{key}_{name}"] = scores[f"eval_{name}"]
        metrics[f"ua_drop_{key}"] = metrics["eval_ua"] - scores["eval_ua"]
        logger.info("%s: UA %.3f (clean %.3f)", spec, scores["eval_ua"], metrics["eval_ua"])
    return metrics, record
