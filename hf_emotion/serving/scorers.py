"""Scorers: a batch of mono signals in, emotion probabilities and valence/arousal out.

A scorer only runs a model. Everything around it (decoding, windows, speech segments,
silence) is :class:`hf_emotion.serving.recognizer.EmotionRecognizer`'s, the same for every scorer:

* :class:`TorchScorer` (here): an ``EmotionModel`` in torch (any device, any dtype);
* :class:`~hf_emotion.serving.onnx_scorer.OnnxScorer`: a folder written by ``hf-emotion export``, run by
  onnxruntime (its own module, so that onnxruntime stays an optional extra);
* :class:`~hf_emotion.serving.mean_scorer.MeanScorer`: the weighted mean of several scorers (an ensemble).

:func:`hf_emotion.serving.loading.load_scorer` picks the right one for a folder.

Every scorer has ``labels``, ``regression_targets``, ``sampling_rate``, ``max_clip_seconds``
(the longest signal it takes whole) and ``score(signals, batch_size=...)``, whose probabilities are
tempered by the model's ``config.temperature`` (fitted by the recipe; :func:`temper`). A scorer of one
model also gives the encoder's pooled hidden states (``pooled_features``), what a speaker-adaptive head
judges (:mod:`hf_emotion.serving.adaptive_scoring`), and its embeddings (``embeddings``).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import numpy as np
import torch

from hf_emotion.model.batches import load_feature_extractor, model_inputs

logger = logging.getLogger(__name__)

#: Shorter signals (a file's tail) are zero-padded up to this: the convolutional front ends
#: need a minimum number of samples.
MIN_MODEL_SECONDS = 0.1


class Scorer(Protocol):
    labels: list[str]
    regression_targets: list[str]
    sampling_rate: int
    max_clip_seconds: float

    def score(self, signals: Sequence[np.ndarray], *, batch_size: int) -> tuple[np.ndarray, np.ndarray]: ...


class FeatureScorer(Scorer, Protocol):
    """A scorer of one model, which can also give what its encoder heard (for a speaker-adaptive head)."""

    def pooled_features(self, signals: Sequence[np.ndarray], *, batch_size: int) -> np.ndarray: ...


def even_frames(features: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Whisper log-mel with an odd number of frames gets one masked zero frame, as
    ``EmotionModel`` pads it inside (conv2 has stride 2); exported graphs expect even lengths."""
    if features["input_features"].shape[-1] % 2 == 0:
        return features
    padded = dict(features)
    padded["input_features"] = np.pad(features["input_features"], ((0, 0), (0, 0), (0, 1)))
    padded["attention_mask"] = np.pad(features["attention_mask"], ((0, 0), (0, 1)))
    return padded


def temper(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(logits / temperature)`` from ``softmax(logits)``: ``p ** (1 / T)`` renormalised (the same in
    exact arithmetic, as the per-clip constant of ``log p`` cancels), so a scorer whose runtime ends in
    probabilities (an ONNX graph) tempers them as the torch model's logits would be."""
    if temperature == 1.0:
        return probabilities
    with np.errstate(divide="ignore"):  # a probability that underflowed to 0 stays 0
        scaled = np.log(probabilities.astype(np.float64)) / temperature
    scaled -= scaled.max(axis=-1, keepdims=True)
    exponentials = np.exp(scaled)
    return (exponentials / exponentials.sum(axis=-1, keepdims=True)).astype(np.float32)


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
        # The silence around speech the model was trained on (None: its corpus's own framing).
        self.speech_margin_seconds = getattr(config, "speech_margin_seconds", None)
        # Models saved before temperature scaling have none: their probabilities are the softmax itself.
        self.temperature = float(getattr(config, "temperature", None) or 1.0)
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
            ``(probabilities (N, num_labels), regression outputs (N, R))`` in input order, the probabilities
            tempered by ``config.temperature``, the regression columns in ``regression_targets`` order.
        """
        signals = self._padded(signals)
        probabilities = np.zeros((len(signals), len(self.labels)), dtype=np.float32)
        regression = np.zeros((len(signals), len(self.regression_targets)), dtype=np.float32)
        for chunk in self._batches(signals, batch_size):
            probabilities[chunk], regression[chunk] = self.run(self.features([signals[i] for i in chunk]))
        return temper(probabilities, self.temperature), regression

    def pooled_features(self, signals: Sequence[np.ndarray], *, batch_size: int = 16) -> np.ndarray:
        """The encoder's hidden states of every layer, each mean-pooled over the signal's frames.

        Returns:
            ``(N, L, H)`` float32 in input order: what a speaker-adaptive head judges.
        """
        signals = self._padded(signals)
        rows: list[np.ndarray | None] = [None] * len(signals)
        for chunk in self._batches(signals, batch_size):
            pooled = self.run_pooled(self.features([signals[i] for i in chunk]))
            for row, i in enumerate(chunk):
                rows[i] = pooled[row]
        if not rows:
            return np.zeros((0, 0, 0), dtype=np.float32)
        return np.stack(rows)

    def embeddings(
        self, signals: Sequence[np.ndarray], *, frames: bool = False, batch_size: int = 16
    ) -> tuple[np.ndarray, list[np.ndarray] | None]:
        """What the heads read (``EmotionModel.embeddings``): ``(utterance vectors (N, P), frame vectors)``
        in input order, the frames a list of ``(F_i, P)`` float32 arrays (each clip's own frames, no
        padding) with ``frames=True``, else None."""
        signals = self._padded(signals)
        utterances: list[np.ndarray | None] = [None] * len(signals)
        frame_rows: list[np.ndarray | None] = [None] * len(signals)
        for chunk in self._batches(signals, batch_size):
            pooled, framed, mask = self.run_embeddings(self.features([signals[i] for i in chunk]))
            for row, i in enumerate(chunk):
                utterances[i] = pooled[row]
                frame_rows[i] = framed[row][mask[row].astype(bool)] if frames else None
        if not utterances:
            return np.zeros((0, 0), dtype=np.float32), [] if frames else None
        return np.stack(utterances), frame_rows if frames else None

    def _padded(self, signals: Sequence[np.ndarray]) -> list[np.ndarray]:
        min_samples = int(MIN_MODEL_SECONDS * self.sampling_rate)
        return [np.pad(s, (0, max(0, min_samples - s.shape[0]))) for s in signals]

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
        """One batch of :meth:`features` → ``(softmax of the raw logits, regression outputs)`` as float32."""
        raise NotImplementedError

    def run_pooled(self, features: dict[str, np.ndarray]) -> np.ndarray:
        """One batch of :meth:`features` → ``(B, L, H)`` pooled hidden states as float32."""
        raise NotImplementedError

    def run_embeddings(self, features: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One batch of :meth:`features` → ``(utterance (B, P), frames (B, F, P), frame mask (B, F))``."""
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
        feature_extractor = load_feature_extractor(name, **hub_kwargs)  # an error if it has none
        logger.info(
            "loaded %s (%s backbone, labels %s)",
            name,
            model.config.encoder_config.model_type,
            list(model.config.id2label.values()),
        )
        return cls(model, feature_extractor, device=device, dtype=dtype)

    @torch.inference_mode()
    def run(self, features: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        output = self.model(**self._tensors(features))
        probabilities = torch.softmax(output.logits.float(), dim=-1)
        return probabilities.cpu().numpy(), output.valence_arousal.float().cpu().numpy()

    @torch.inference_mode()
    def run_pooled(self, features: dict[str, np.ndarray]) -> np.ndarray:
        return self.model.pooled_hidden_states(**self._tensors(features)).float().cpu().numpy()

    @torch.inference_mode()
    def run_embeddings(self, features: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        utterance, frames, mask = self.model.embeddings(**self._tensors(features))
        return utterance.float().cpu().numpy(), frames.float().cpu().numpy(), mask.cpu().numpy()

    def _tensors(self, features: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        kwargs = {self.input_name: torch.from_numpy(features[self.input_name]).to(self.device, self.dtype)}
        if "attention_mask" in features:
            kwargs["attention_mask"] = torch.from_numpy(features["attention_mask"]).to(self.device)
        return kwargs


__all__ = [
    "MIN_MODEL_SECONDS",
    "FeatureScorer",
    "ModelScorer",
    "Scorer",
    "TorchScorer",
    "even_frames",
    "temper",
]
