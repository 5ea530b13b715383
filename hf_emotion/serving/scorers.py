"""Scorers: a batch of mono signals in, emotion probabilities and valence/arousal out.

A scorer only runs a model. Everything around it (decoding, windows, speech segments,
silence) is :class:`hf_emotion.serving.recognizer.EmotionRecognizer`'s, the same for every scorer:

* :class:`TorchScorer`: an ``EmotionModel`` in torch (any device, any dtype);
* :class:`~hf_emotion.serving.onnx_scorer.OnnxScorer`: a folder written by ``hf-emotion export``, run by
  onnxruntime (its own module, so that onnxruntime stays an optional extra);
* :class:`MeanScorer`: the weighted mean of several scorers (an ensemble).

Every scorer has ``labels``, ``regression_targets``, ``sampling_rate``, ``max_clip_seconds``
(the longest signal it takes whole) and ``score(signals, batch_size=...)``.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import numpy as np
import torch

from hf_emotion.model.batches import model_inputs
from hf_emotion.model.files import ONNX_FILE

logger = logging.getLogger(__name__)

#: Shorter signals (a file's tail) are zero-padded up to this: the convolutional front ends
#: need a minimum number of samples.
MIN_MODEL_SECONDS = 0.1
ONNX_MISSING = (
    "running an exported ONNX model needs onnxruntime: pip install 'hf-emotion[onnx]' "
    "(or pip install onnxruntime onnx)"
)


class Scorer(Protocol):
    labels: list[str]
    regression_targets: list[str]
    sampling_rate: int
    max_clip_seconds: float

    def score(self, signals: Sequence[np.ndarray], *, batch_size: int) -> tuple[np.ndarray, np.ndarray]: ...


def is_onnx_folder(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a folder written by ``hf-emotion export``."""
    return os.path.isfile(os.path.join(os.fspath(path), ONNX_FILE))


def even_frames(features: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Whisper log-mel with an odd number of frames gets one masked zero frame, as
    ``EmotionModel`` pads it inside (conv2 has stride 2); exported graphs expect even lengths."""
    if features["input_features"].shape[-1] % 2 == 0:
        return features
    padded = dict(features)
    padded["input_features"] = np.pad(features["input_features"], ((0, 0), (0, 0), (0, 1)))
    padded["attention_mask"] = np.pad(features["attention_mask"], ((0, 0), (0, 1)))
    return padded


class ModelScorer:
    """Feature extraction and length-sorted batching, shared by the torch and the ONNX scorer.

    Args:
        config: the model's ``EmotionConfig``.
        feature_extractor: its feature extractor (``WhisperFeatureExtractor`` or a wav2vec2 one).
    """

    def __init__(self, config: Any, feature_extractor: Any) -> None:
        self.config = config
        self.feature_extractor = feature_extractor
        self.is_whisper = config.encoder_config.model_type == "whisper"
        self.sampling_rate = int(getattr(feature_extractor, "sampling_rate", None) or 16_000)
        self.labels = [config.id2label[i] for i in range(config.num_labels)]
        self.regression_targets = list(getattr(config, "regression_targets", ("valence", "arousal")))
        # Whisper's mask is always honoured by EmotionModel; a wav2vec2-like model only takes one
        # when its extractor says so (wav2vec2-base, with group norm, must see unmasked zeros).
        self.uses_attention_mask = self.is_whisper or bool(
            getattr(feature_extractor, "return_attention_mask", False)
        )
        self.input_name = "input_features" if self.is_whisper else "input_values"
        if self.is_whisper:  # the encoder's position table: 2 mel frames of 10 ms per position
            self.max_clip_seconds = 2 * config.encoder_config.max_source_positions * 0.01
        else:
            self.max_clip_seconds = math.inf

    def features(self, signals: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
        """The model's inputs for signals at ``self.sampling_rate``, padded to the longest, as numpy
        arrays (float32 features, int64 mask), built as training builds them
        (:func:`hf_emotion.model.batches.model_inputs`)."""
        inputs = model_inputs(
            self.feature_extractor,
            signals,
            is_whisper=self.is_whisper,
            attention_mask=self.uses_attention_mask,
        )
        features = {self.input_name: inputs[self.input_name].numpy().astype(np.float32, copy=False)}
        if "attention_mask" in inputs:
            features["attention_mask"] = inputs["attention_mask"].numpy().astype(np.int64, copy=False)
        return features

    def score(self, signals: Sequence[np.ndarray], *, batch_size: int = 16) -> tuple[np.ndarray, np.ndarray]:
        """Run the model on mono signals, batched by length.

        Returns:
            ``(probabilities (N, num_labels), regression outputs (N, R))`` in input order,
            the regression columns in ``regression_targets`` order.
        """
        min_samples = int(MIN_MODEL_SECONDS * self.sampling_rate)
        signals = [np.pad(s, (0, max(0, min_samples - s.shape[0]))) for s in signals]
        probabilities = np.zeros((len(signals), len(self.labels)), dtype=np.float32)
        regression = np.zeros((len(signals), len(self.regression_targets)), dtype=np.float32)
        for chunk in self._batches(signals, batch_size):
            probabilities[chunk], regression[chunk] = self.run(self.features([signals[i] for i in chunk]))
        return probabilities, regression

    def _batches(self, signals: Sequence[np.ndarray], batch_size: int) -> Iterator[list[int]]:
        order = sorted(range(len(signals)), key=lambda i: signals[i].shape[0])
        chunk: list[int] = []
        for i in order:
            # Without an attention mask, padding would change the result: batch equal lengths only.
            if chunk and (
                len(chunk) >= batch_size
                or (not self.uses_attention_mask and signals[i].shape[0] != signals[chunk[0]].shape[0])
            ):
                yield chunk
                chunk = []
            chunk.append(i)
        if chunk:
            yield chunk

    def run(self, features: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """One batch of :meth:`features` → ``(probabilities, regression outputs)`` as float32."""
        raise NotImplementedError


class TorchScorer(ModelScorer):
    """An ``EmotionModel`` run by torch.

    Args:
        model: a trained :class:`hf_emotion.model.modeling_emotion.EmotionModel`.
        feature_extractor: its feature extractor.
        device: where the model runs (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...).
        dtype: run the model in this dtype (``"bfloat16"`` is ~2.5× faster on CPUs with
            AMX/AVX-512 BF16, probabilities within ~0.01 of float32); default: as loaded.
    """

    def __init__(
        self,
        model: Any,
        feature_extractor: Any,
        *,
        device: str | torch.device = "cpu",
        dtype: str | torch.dtype | None = None,
    ) -> None:
        super().__init__(model.config, feature_extractor)
        if isinstance(dtype, str):
            if not isinstance(getattr(torch, dtype, None), torch.dtype):
                raise ValueError(f"dtype={dtype!r} is not a torch dtype; use float32, bfloat16 or float16")
            dtype = getattr(torch, dtype)
        self.device = torch.device(device)
        self.model = model.to(device=self.device, dtype=dtype).eval()
        self.dtype = next(self.model.parameters()).dtype

    @classmethod
    def from_pretrained(
        cls,
        name: str | os.PathLike,
        *,
        device: str | torch.device = "cpu",
        dtype: str | torch.dtype | None = None,
        **hub_kwargs: Any,
    ) -> TorchScorer:
        """A model folder written by ``save_pretrained`` (feature extractor beside it) or a Hub id."""

        from hf_emotion.model.modeling_emotion import EmotionModel

        name = os.fspath(name)
        if os.path.isdir(name) and not os.path.exists(os.path.join(name, "config.json")):
            raise FileNotFoundError(
                f"{name}: no config.json; is this a model folder written by save_pretrained "
                "(e.g. the output_dir of a finished fine-tuning run) or by hf-emotion export?"
            )
        model = EmotionModel.from_pretrained(name, **hub_kwargs)
        feature_extractor = load_feature_extractor(name, **hub_kwargs)
        logger.info(
            "loaded %s (%s backbone, labels %s)",
            name,
            model.config.encoder_config.model_type,
            list(model.config.id2label.values()),
        )
        return cls(model, feature_extractor, device=device, dtype=dtype)

    @torch.inference_mode()
    def run(self, features: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        kwargs = {self.input_name: torch.from_numpy(features[self.input_name]).to(self.device, self.dtype)}
        if "attention_mask" in features:
            kwargs["attention_mask"] = torch.from_numpy(features["attention_mask"]).to(self.device)
        output = self.model(**kwargs)
        probabilities = torch.softmax(output.logits.float(), dim=-1)
        return probabilities.cpu().numpy(), output.valence_arousal.float().cpu().numpy()


class MeanScorer:
    """The weighted mean of several scorers' answers: probabilities and valence/arousal.

    Models trained apart err apart; averaging their probabilities is the plainest way to trade
    inference time for accuracy (on RAVDESS speech, the fine-tuned Whisper tiny.en and base
    together score higher than either; see BENCHMARKS.md). Every member must have the same
    labels in the same order, the same regression targets and the same sampling rate; each
    scores the same signals its own way (its own feature extractor, device, dtype or runtime).

    Args:
        members: the scorers (at least two).
        weights: one non-negative weight per member (normalised to sum 1); default: equal.
    """

    def __init__(self, members: Sequence[Scorer], *, weights: Sequence[float] | None = None) -> None:
        members = list(members)
        if len(members) < 2:
            raise ValueError(f"an ensemble needs at least two models, got {len(members)}")
        first = members[0]
        for index, member in enumerate(members[1:], start=2):
            for what in ("labels", "regression_targets", "sampling_rate"):
                if getattr(member, what) != getattr(first, what):
                    raise ValueError(
                        f"model {index} of the ensemble has {what} {getattr(member, what)}, model 1 has "
                        f"{getattr(first, what)}: only models with the same {what} can be averaged"
                    )
        weights = np.ones(len(members)) if weights is None else np.asarray(weights, dtype=np.float64)
        if weights.shape != (len(members),) or (weights < 0).any() or not weights.sum() > 0:
            raise ValueError(
                f"weights must be {len(members)} non-negative numbers, not all 0; got {weights.tolist()}"
            )
        self.members = members
        self.weights = weights / weights.sum()
        self.labels = first.labels
        self.regression_targets = first.regression_targets
        self.sampling_rate = first.sampling_rate
        self.max_clip_seconds = min(member.max_clip_seconds for member in members)

    def score(self, signals: Sequence[np.ndarray], *, batch_size: int = 16) -> tuple[np.ndarray, np.ndarray]:
        probabilities = np.zeros((len(signals), len(self.labels)), dtype=np.float64)
        regression = np.zeros((len(signals), len(self.regression_targets)), dtype=np.float64)
        for weight, member in zip(self.weights, self.members, strict=True):
            p, r = member.score(signals, batch_size=batch_size)
            probabilities += weight * p
            regression += weight * r
        return probabilities.astype(np.float32), regression.astype(np.float32)


def load_feature_extractor(name: str, **hub_kwargs: Any) -> Any:
    from transformers import AutoFeatureExtractor

    try:
        return AutoFeatureExtractor.from_pretrained(name, **hub_kwargs)
    except (OSError, ValueError) as error:
        raise FileNotFoundError(
            f"{name}: the model has no feature extractor saved next to it "
            f"(preprocessor_config.json); save it with feature_extractor.save_pretrained({name!r}). "
            f"({error})"
        ) from error


def load_scorer(
    name: str | os.PathLike,
    *,
    device: str | torch.device = "cpu",
    dtype: str | torch.dtype | None = None,
    **hub_kwargs: Any,
) -> Scorer:
    """A :class:`OnnxScorer` for an exported folder, else a :class:`TorchScorer`."""
    if not is_onnx_folder(name):
        return TorchScorer.from_pretrained(name, device=device, dtype=dtype, **hub_kwargs)
    if str(device) != "cpu":
        raise ValueError(f"{os.fspath(name)} is an ONNX export, which runs on the CPU; use device='cpu'")
    if dtype not in (None, "float32", torch.float32):
        raise ValueError(
            f"{os.fspath(name)} is an ONNX export and runs as exported: dtype={dtype!r} does not apply "
            "(export with --quantize int8 for a smaller, faster model)"
        )
    from hf_emotion.serving.onnx_scorer import (
        OnnxScorer,  # onnxruntime is an optional extra: loaded only here
    )

    return OnnxScorer(name)


__all__ = [
    "MIN_MODEL_SECONDS",
    "ONNX_FILE",
    "MeanScorer",
    "ModelScorer",
    "Scorer",
    "TorchScorer",
    "even_frames",
    "load_feature_extractor",
    "is_onnx_folder",
    "load_scorer",
]
