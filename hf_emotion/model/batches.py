"""From decoded audio to model inputs: the one function that builds them, and the collator over it."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

logger = logging.getLogger(__name__)


def model_inputs(
    feature_extractor,
    audio: Sequence[np.ndarray],
    *,
    is_whisper: bool,
    attention_mask: bool = True,
) -> dict[str, torch.Tensor]:
    """Mono clips at the extractor's rate → the keyword arguments of ``EmotionModel``'s forward.

    Whisper gets log-mel ``input_features`` padded to the batch's longest clip (not Whisper's 30 s:
    the model runs at the clips' own length); wav2vec2-like encoders get normalised raw
    ``input_values``. With ``attention_mask`` the padding is masked out of pooling; without it
    (an encoder trained without masks) only equal-length clips may share a batch. Training,
    evaluation and ``EmotionRecognizer`` all build their inputs here, so a model sees the same
    features at test time as in training.
    """
    encoded = feature_extractor(
        list(audio),
        sampling_rate=feature_extractor.sampling_rate,
        padding="longest",
        return_attention_mask=attention_mask,
        return_tensors="pt",
    )
    name = "input_features" if is_whisper else "input_values"
    inputs = {name: encoded[name]}
    if attention_mask and "attention_mask" in encoded:
        inputs["attention_mask"] = encoded["attention_mask"]
    return inputs


def with_model_columns(dataset):
    """A decoded dataset whose audio and targets come out as numpy arrays (what the collator takes), the
    other columns (speaker, path, ...) as they are."""
    return dataset.with_format(
        "numpy", columns=["input_audio", "emotion", "valence", "arousal"], output_all_columns=True
    )


@dataclass
class EmotionDataCollator:
    """Pads a list of decoded clips into a model batch (inputs from :func:`model_inputs`, plus targets).

    Training batches take a random window of at most ``max_seconds`` from each clip (a new
    one every epoch; with ``framing``, from the clip's speech, framed anew), then ``augment``
    (e.g. ``augmentation.ConditionAugmenter``) degrades it; evaluation batches take the first
    ``max_seconds`` and are never framed or augmented.
    """

    feature_extractor: object
    is_whisper: bool
    max_seconds: float | None = None
    random_crop: bool = False
    seed: int = 0
    augment: Callable[[np.ndarray], np.ndarray] | None = None
    #: ``hf_emotion.data.framing.TrainingFraming``: training crops from each clip's speech
    #: (``speech_start``/``speech_end`` columns), framed anew at every draw.
    framing: Callable[..., np.ndarray] | None = None
    _rng: np.random.Generator = field(init=False, repr=False)

    def __post_init__(self):
        self._rng = np.random.default_rng(self.seed)

    def _crop(self, audio: np.ndarray, sampling_rate: int) -> np.ndarray:
        if not self.max_seconds:
            return audio
        limit = int(self.max_seconds * sampling_rate)
        if audio.shape[0] <= limit:
            return audio
        start = int(self._rng.integers(0, audio.shape[0] - limit + 1)) if self.random_crop else 0
        return audio[start : start + limit]

    def _training_crop(self, example: dict, sampling_rate: int) -> np.ndarray:
        audio = np.asarray(example["input_audio"], dtype=np.float32)
        if self.framing is None or not self.random_crop:
            return self._crop(audio, sampling_rate)
        span = (int(example["speech_start"]), int(example["speech_end"]))
        return self.framing(audio, span, max_seconds=self.max_seconds, rng=self._rng)

    def __call__(self, examples: Sequence[dict]) -> dict[str, torch.Tensor]:
        sampling_rate = self.feature_extractor.sampling_rate
        audio = [self._training_crop(e, sampling_rate) for e in examples]
        if self.augment is not None and self.random_crop:
            audio = [np.asarray(self.augment(clip), dtype=np.float32) for clip in audio]
        batch = model_inputs(self.feature_extractor, audio, is_whisper=self.is_whisper)
        if "emotion" in examples[0]:
            batch["labels"] = torch.tensor([int(e["emotion"]) for e in examples], dtype=torch.long)
        for name in ("valence", "arousal"):
            if name in examples[0]:
                batch[name] = torch.tensor([float(e[name]) for e in examples], dtype=torch.float32)
        return batch


def load_feature_extractor(
    model_name_or_path: str, encoder_type: str | None = None, num_mel_bins: int = 80, **kwargs
):
    """The feature extractor saved with a model or encoder (training and serving both load it here).

    Args:
        model_name_or_path: a folder or Hub id.
        encoder_type: for training from a bare encoder: when the folder has no preprocessor_config.json,
            the standard extractor for this encoder type (wav2vec2-like encoders: normalised 16 kHz raw
            audio; ``"whisper"``: its log-mel extractor with ``num_mel_bins``). ``None`` (serving a trained
            model): a missing extractor is an error, since the model was trained on one that is lost.
        num_mel_bins: the Whisper encoder's mel bins, for the standard extractor.
        **kwargs: passed to ``AutoFeatureExtractor.from_pretrained`` (``cache_dir``, ``token``, ...).

    Raises:
        FileNotFoundError: a trained model has no extractor saved beside it (``encoder_type=None``).
    """
    from transformers import AutoFeatureExtractor, Wav2Vec2FeatureExtractor, WhisperFeatureExtractor

    try:
        return AutoFeatureExtractor.from_pretrained(model_name_or_path, **kwargs)
    except (OSError, ValueError) as error:
        if encoder_type is None:
            raise FileNotFoundError(
                f"{model_name_or_path}: the model has no feature extractor saved next to it "
                f"(preprocessor_config.json); save it with feature_extractor.save_pretrained("
                f"{model_name_or_path!r}). ({error})"
            ) from error
        if not os.path.isdir(model_name_or_path):
            raise
        logger.warning(
            "%s has no feature extractor (%s); using the standard one for %s",
            model_name_or_path,
            error,
            encoder_type,
        )
    if encoder_type == "whisper":
        return WhisperFeatureExtractor(feature_size=num_mel_bins)
    return Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True, return_attention_mask=True
    )
