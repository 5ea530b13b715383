"""Fitting a speaker-adaptive head for a trained model: encode a corpus's speakers, choose ``C``, fit.

What ``hf-emotion adapt``, the recipe's ``--speaker_adaptive_head`` and the final model call; the head
itself (load, save, apply) and its use at inference are serving's
(:mod:`hf_emotion.serving.speaker_adaptive`). Encoding here goes through the training collator and
:func:`hf_emotion.training.heads.pooled_features`, as the heads fitted on cached features do.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch

from hf_emotion.evaluation.metrics import classification_metrics
from hf_emotion.evaluation.speaker_normalisation import SPEAKER_PROBE_CS
from hf_emotion.model.batches import EmotionDataCollator
from hf_emotion.serving.speaker_adaptive import DEFAULT_MAX_SECONDS, SpeakerAdaptiveHead, check_speakers
from hf_emotion.training.heads import pooled_features

logger = logging.getLogger(__name__)


def fit_speaker_adaptive_head(
    train: tuple[np.ndarray, Sequence[int], Sequence[str]],
    validation: tuple[np.ndarray, Sequence[int], Sequence[str]],
    label_names: Sequence[str],
    Cs: Sequence[float] = SPEAKER_PROBE_CS,
) -> tuple[SpeakerAdaptiveHead, dict[str, float]]:
    """Choose ``C`` on the validation speakers' UA, then refit on training + validation speakers.

    Each part is ``(features, labels, speakers)``. Returns the head and
    ``{"validation_adaptive_ua": ..., "adaptive_C": ...}``.
    """
    best_ua, best_c = -1.0, Cs[0]
    for c in Cs:
        head = SpeakerAdaptiveHead.fit(*train, label_names, C=c)
        predicted = head.probabilities(validation[0], validation[2]).argmax(axis=1)
        ua = classification_metrics(validation[1], predicted, label_names)["ua"]
        logger.info("speaker-adaptive head, C=%g: validation UA %.3f", c, ua)
        if ua > best_ua:
            best_ua, best_c = ua, c
    features = np.concatenate([np.asarray(train[0]), np.asarray(validation[0])])
    labels = [*train[1], *validation[1]]
    speakers = [*train[2], *validation[2]]
    head = SpeakerAdaptiveHead.fit(features, labels, speakers, label_names, C=best_c)
    return head, {"validation_adaptive_ua": best_ua, "adaptive_C": float(best_c)}


def encode_clips(
    model,
    feature_extractor,
    clips,
    *,
    max_seconds: float | None = DEFAULT_MAX_SECONDS,
    batch_size: int = 8,
    dtype: torch.dtype = torch.float32,
    encode=pooled_features,
) -> dict[str, np.ndarray]:
    """Pooled hidden states of every layer ``hidden`` `(N, L, H)` (and ``labels`` when the clips have an
    ``emotion`` column) for a decoded dataset or a list of mono arrays at the extractor's rate, cut to
    ``max_seconds`` and padded as ``hf-emotion evaluate`` does.

    ``dtype`` is the autocast dtype of the pass (a run's training dtype); ``encode`` runs it
    (:func:`~hf_emotion.training.heads.pooled_features`, or a run's ``PooledFeatureCache``, which reuses the
    features the head refit computed with the same encoder)."""
    if len(clips) and isinstance(clips[0], np.ndarray):
        clips = [{"input_audio": clip} for clip in clips]
    collator = EmotionDataCollator(feature_extractor, model.config.is_whisper, max_seconds)
    encoded = encode(model, clips, collator, batch_size, f"{len(clips)} clips", dtype=dtype)
    return {key: encoded[key].numpy() for key in ("hidden", "labels") if key in encoded}


def fit_head_for_model(
    model,
    feature_extractor,
    train_dataset,
    validation_dataset,
    *,
    max_seconds=DEFAULT_MAX_SECONDS,
    batch_size=8,
    dtype: torch.dtype = torch.float32,
    encode=pooled_features,
) -> tuple[SpeakerAdaptiveHead, dict[str, float]]:
    """A speaker-adaptive head for a trained model, fitted on decoded training and validation speakers.

    What the recipe calls once a fold's model is chosen (then ``head.save(output_dir)``) and what
    ``hf-emotion adapt`` runs for an existing model; the model is not changed. ``emotion`` holds the model's
    label ids; the head covers the labels the training clips have (CREMA-D: 6 of a RAVDESS model's 8).
    """
    names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    settings = dict(max_seconds=max_seconds, batch_size=batch_size, dtype=dtype, encode=encode)
    parts = {
        part: _encode_speakers(model, feature_extractor, dataset, **settings)
        for part, dataset in (("train", train_dataset), ("validation", validation_dataset))
    }
    present = sorted(set(parts["train"][1].tolist()))
    index = {label: i for i, label in enumerate(present)}
    keep = np.isin(parts["validation"][1], present)
    train = (parts["train"][0], [index[y] for y in parts["train"][1]], parts["train"][2])
    validation = (
        parts["validation"][0][keep],
        [index[y] for y in parts["validation"][1][keep]],
        [s for s, k in zip(parts["validation"][2], keep, strict=True) if k],
    )
    return fit_speaker_adaptive_head(train, validation, [names[i] for i in present])


def fit_head_on_every_speaker(
    model, feature_extractor, dataset, C: float, *, max_seconds=DEFAULT_MAX_SECONDS, batch_size=8, **encoding
) -> SpeakerAdaptiveHead:
    """A head on every clip of ``dataset`` with a ``C`` chosen elsewhere: the final model's, whose folds chose
    ``C`` on their validation speakers (no speaker is left to choose on). ``encoding``: ``dtype`` and
    ``encode``, as :func:`encode_clips` takes them."""
    names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    hidden, labels, speakers = _encode_speakers(
        model, feature_extractor, dataset, max_seconds=max_seconds, batch_size=batch_size, **encoding
    )
    present = sorted(set(labels.tolist()))
    index = {label: i for i, label in enumerate(present)}
    return SpeakerAdaptiveHead.fit(
        hidden, [index[y] for y in labels], speakers, [names[i] for i in present], C=C
    )


def _encode_speakers(
    model, feature_extractor, dataset, **settings
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``(hidden, label ids, speakers)`` of a decoded dataset, its speakers checked before minutes of encoding."""
    speakers = list(dataset["speaker"])
    check_speakers(speakers)
    encoded = encode_clips(model, feature_extractor, dataset, **settings)
    return encoded["hidden"], encoded["labels"], speakers


def score_speaker_adaptive(
    head: SpeakerAdaptiveHead,
    model,
    feature_extractor,
    dataset,
    *,
    labels: Sequence[str] | None = None,
    max_seconds: float | None = DEFAULT_MAX_SECONDS,
    batch_size: int = 8,
    prefix: str = "eval_adaptive",
    **encoding,
) -> dict[str, float]:
    """``<prefix>_<ua|wa|macro_f1|f1_label>`` of the head on a decoded dataset (``emotion`` in the model's label
    ids), each speaker standardised on their own clips of ``labels`` (default: the head's), the arg-max
    restricted to those labels. Transductive: report apart from clip-by-clip numbers. ``encoding``: ``dtype`` and
    ``encode``, as :func:`encode_clips` takes them."""
    model_names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    wanted = list(labels or head.labels)
    keep = [head.labels.index(name) for name in wanted]
    rows = [i for i, y in enumerate(dataset.with_format(None)["emotion"]) if model_names[y] in wanted]
    subset = dataset.select(rows)
    encoded = encode_clips(
        model, feature_extractor, subset, max_seconds=max_seconds, batch_size=batch_size, **encoding
    )
    probabilities = head.probabilities(encoded["hidden"], list(subset["speaker"]))
    predicted = np.asarray(keep)[probabilities[:, keep].argmax(axis=1)]
    truth = [head.labels.index(model_names[y]) for y in encoded["labels"]]
    metrics = classification_metrics(truth, predicted, head.labels)
    return {f"{prefix}_{key}": value for key, value in metrics.items()}


__all__ = [
    "encode_clips",
    "fit_head_for_model",
    "fit_head_on_every_speaker",
    "fit_speaker_adaptive_head",
    "score_speaker_adaptive",
]
