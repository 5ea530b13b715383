"""Configuration of the speech emotion model: a pretrained speech encoder plus emotion heads.

This file is copied next to the weights by `save_pretrained` (see `EmotionConfig.register_for_auto_class`), so it
imports nothing from `hf_emotion` but its sibling `pipeline_emotion.py` and can be loaded on its own with
`trust_remote_code=True`.
"""

import copy
import logging
import os

from transformers import AutoConfig, PreTrainedConfig
from transformers.configuration_utils import SubConfigSpec

# A relative import, so transformers copies pipeline_emotion.py beside the model whenever it saves or downloads this
# file: the pipeline named in `custom_pipelines` is then always there.
from .pipeline_emotion import CUSTOM_PIPELINES

#: Backbone families the model knows how to pool over, by `model_type` of the encoder config.
WAV2VEC2_LIKE_MODEL_TYPES = ("wav2vec2", "hubert", "wavlm", "data2vec-audio")
WHISPER_MODEL_TYPES = ("whisper",)
SUPPORTED_ENCODER_MODEL_TYPES = WAV2VEC2_LIKE_MODEL_TYPES + WHISPER_MODEL_TYPES
#: Regression outputs the model's `forward` accepts targets for.
SUPPORTED_REGRESSION_TARGETS = ("valence", "arousal")
POOLING_MODES = ("mean", "max")

logger = logging.getLogger(__name__)


class EmotionConfig(PreTrainedConfig):
    r"""Configuration of [`EmotionModel`]: a speech encoder, a learned weighted sum over its hidden states,
    a projection, pooling over time, an emotion `classifier` and a valence/arousal `regressor`.

    Args:
        encoder_config (`PreTrainedConfig` or `dict`, *optional*):
            Configuration of the backbone (`wav2vec2`, `hubert`, `wavlm`, `data2vec-audio` or `whisper`). A dict
            is resolved through its `model_type`; `None` gives a default wav2vec2 configuration.
        id2label (`dict[int, str]`, *optional*):
            Emotion names by class index. `label2id` is derived from it when not given.
        regression_targets (`list[str]`, *optional*, defaults to `["valence", "arousal"]`):
            Names of the `regressor` outputs, in order; each must be `"valence"` or `"arousal"`.
        use_weighted_layer_sum (`bool`, *optional*, defaults to `True`):
            Pool a softmax-weighted sum of all hidden states (embeddings output included) instead of the last one.
        pooling (`str`, *optional*, defaults to `"mean"`):
            `"mean"` or `"max"` over the non-padded frames.
        classifier_proj_size (`int`, *optional*, defaults to 256):
            Size of the projection applied to every frame before pooling; input size of both heads.
        head_dropout (`float`, *optional*, defaults to 0.1):
            Dropout on the pooled vector before the heads.
        ccc_loss_weight (`float`, *optional*, defaults to 0.5):
            Weight of the regression loss, `sum over targets of (1 - CCC)`, added to the cross-entropy.
        label_smoothing (`float`, *optional*, defaults to 0.0):
            Label smoothing of the cross-entropy, in `[0, 1)`.
        class_weights (`list[float]`, *optional*):
            One cross-entropy weight per class (e.g. inverse class frequency), or `None` for equal weights.
        class_valence_arousal (`list[list[float]]`, *optional*):
            Where each emotion lies on the valence/arousal plane: one row per label, one column per regression
            target (`finetune.py` takes the training clips' mean targets per class).
        valence_arousal_class_weight (`list[float]`, *optional*):
            One weight `w` in `[0, 1]` per regression target. The model then outputs
            `(1 - w) * regressor + w * softmax(logits) @ class_valence_arousal`: the classifier's expectation of
            the class coordinates mixed into the regressor's. `finetune.py` chooses it on validation speakers;
            `None` or 0 leaves the regressor's output as it is.
        temperature (`float`, *optional*, defaults to 1.0):
            Probabilities are `softmax(logits / temperature)`. `finetune.py` fits it on the validation speakers
            (temperature scaling) so that a probability of 0.9 is right about 9 times in 10; the logits, and so
            the label, are unchanged. Valence/arousal class mixing uses the untempered softmax it was chosen with.
        sampling_rate (`int`, *optional*, defaults to 16000):
            Sampling rate of the audio the encoder expects.
        initializer_range (`float`, *optional*, defaults to 0.02):
            Standard deviation of the normal initialisation of the head weights.
        speech_margin_seconds (`float`, *optional*):
            Seconds of silence around speech that suit the model: half the largest margin it was trained on
            with `--speech_framing_seconds`. `--segment vad` pads the speech it cuts with this much; `None`
            (a model trained on the corpus's own framing) pads nothing.

    Example:

    ```python
    >>> from transformers import Wav2Vec2Config
    >>> from hf_emotion.model.configuration_emotion import EmotionConfig
    >>> config = EmotionConfig(encoder_config=Wav2Vec2Config(), id2label={0: "neutral", 1: "happy"})
    >>> config.num_labels, config.label2id["happy"], config.encoder_config.model_type
    (2, 1, 'wav2vec2')

    ```
    """

    model_type = "hf_emotion"
    # The encoder config is nested; transformers serialises it as a dict (with its `model_type`) and resolves it
    # back through `AutoConfig` on load.
    sub_configs_defaults = {"encoder_config": SubConfigSpec(config_class=AutoConfig, model_type="wav2vec2")}

    encoder_config: dict | PreTrainedConfig | None = None
    regression_targets: list[str] | tuple[str, ...] = ("valence", "arousal")
    use_weighted_layer_sum: bool = True
    pooling: str = "mean"
    classifier_proj_size: int = 256
    head_dropout: float = 0.1
    ccc_loss_weight: float = 0.5
    label_smoothing: float = 0.0
    class_weights: list[float] | tuple[float, ...] | None = None
    class_valence_arousal: list[list[float]] | None = None
    valence_arousal_class_weight: list[float] | None = None
    temperature: float = 1.0
    sampling_rate: int = 16000
    initializer_range: float = 0.02
    speech_margin_seconds: float | None = None

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        if not getattr(self, "custom_pipelines", None):
            # `pipeline(model=..., trust_remote_code=True)` runs the emotion pipeline, also for the stock
            # "audio-classification" task (a copy: transformers rewrites the entry it loads in place).
            self.custom_pipelines = copy.deepcopy(CUSTOM_PIPELINES)
        if self.id2label is not None and self.label2id is None:
            self.label2id = {label: index for index, label in self.id2label.items()}

        encoder_type = self.encoder_config.model_type
        if encoder_type not in SUPPORTED_ENCODER_MODEL_TYPES:
            raise ValueError(
                f"EmotionConfig: encoder model_type {encoder_type!r} is not supported; use one of "
                f"{', '.join(SUPPORTED_ENCODER_MODEL_TYPES)}."
            )
        if (
            self.use_weighted_layer_sum
            and encoder_type in WAV2VEC2_LIKE_MODEL_TYPES
            and getattr(self.encoder_config, "layerdrop", 0.0) > 0.0
        ):
            # transformers 5 records hidden states with hooks on the layers, so a layer skipped by LayerDrop
            # leaves no entry and the weighted sum would no longer line up with its weights.
            logger.warning(
                "EmotionConfig: setting encoder_config.layerdrop from %s to 0.0; LayerDrop cannot be combined "
                "with use_weighted_layer_sum=True for %s backbones.",
                self.encoder_config.layerdrop,
                encoder_type,
            )
            self.encoder_config.layerdrop = 0.0
        self.regression_targets = list(self.regression_targets)
        unknown = [name for name in self.regression_targets if name not in SUPPORTED_REGRESSION_TARGETS]
        if (
            not self.regression_targets
            or unknown
            or len(set(self.regression_targets)) != len(self.regression_targets)
        ):
            raise ValueError(
                f"EmotionConfig: regression_targets={self.regression_targets} must be a non-empty list of distinct "
                f"names from {list(SUPPORTED_REGRESSION_TARGETS)}."
            )
        if self.pooling not in POOLING_MODES:
            raise ValueError(f"EmotionConfig: pooling={self.pooling!r} is not one of {list(POOLING_MODES)}.")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"EmotionConfig: label_smoothing={self.label_smoothing} must be in [0, 1).")
        self.temperature = float(1.0 if self.temperature is None else self.temperature)
        if not self.temperature > 0.0 or self.temperature == float("inf"):
            raise ValueError(f"EmotionConfig: temperature={self.temperature} must be a positive number.")
        if self.ccc_loss_weight < 0.0:
            raise ValueError(f"EmotionConfig: ccc_loss_weight={self.ccc_loss_weight} must be >= 0.")
        if self.class_weights is not None:
            self.class_weights = [float(weight) for weight in self.class_weights]
            if len(self.class_weights) != self.num_labels:
                raise ValueError(
                    f"EmotionConfig: class_weights has {len(self.class_weights)} entries but there are "
                    f"{self.num_labels} labels ({list(self.id2label.values())}); give one weight per label."
                )
        self._check_class_valence_arousal()

    def _check_class_valence_arousal(self) -> None:
        targets = len(self.regression_targets)
        if self.class_valence_arousal is not None:
            self.class_valence_arousal = [
                [float(value) for value in row] for row in self.class_valence_arousal
            ]
            if len(self.class_valence_arousal) != self.num_labels or any(
                len(row) != targets for row in self.class_valence_arousal
            ):
                raise ValueError(
                    f"EmotionConfig: class_valence_arousal must have one row per label ({self.num_labels}) and "
                    f"one column per regression target ({self.regression_targets})."
                )
        weights = self.valence_arousal_class_weight
        if weights is not None:
            self.valence_arousal_class_weight = weights = [float(weight) for weight in weights]
            if len(weights) != targets or not all(0.0 <= weight <= 1.0 for weight in weights):
                raise ValueError(
                    f"EmotionConfig: valence_arousal_class_weight={weights} must hold one weight in [0, 1] per "
                    f"regression target ({self.regression_targets})."
                )
            if any(weights) and self.class_valence_arousal is None:
                raise ValueError(
                    "EmotionConfig: valence_arousal_class_weight needs class_valence_arousal (the class "
                    "coordinates it mixes in)."
                )

    @property
    def is_whisper(self) -> bool:
        """Whether the backbone is a Whisper encoder (log-mel `input_features`) rather than wav2vec2-like."""
        return self.encoder_config.model_type in WHISPER_MODEL_TYPES

    @classmethod
    def from_encoder(
        cls,
        encoder: str | os.PathLike | PreTrainedConfig | dict,
        *,
        id2label: dict[int, str] | list[str] | None = None,
        **kwargs,
    ) -> "EmotionConfig":
        """Build a config around a backbone given by Hub id, local folder, config object or config dict.

        Args:
            encoder: A model id or folder (read with `AutoConfig.from_pretrained`), or the backbone's config.
            id2label: Emotion names by index, or a list of names in index order.
            **kwargs: Any other `EmotionConfig` field.

        Returns:
            The new `EmotionConfig`.
        """
        if isinstance(encoder, (str, os.PathLike)):
            encoder = AutoConfig.from_pretrained(encoder)
        if isinstance(id2label, (list, tuple)):
            id2label = dict(enumerate(id2label))
        return cls(encoder_config=encoder, id2label=id2label, **kwargs)


EmotionConfig.register_for_auto_class()

# Local registration, so `AutoConfig.from_pretrained` works after `import hf_emotion`. The copy of this file that
# `save_pretrained` writes is imported by transformers under `transformers_modules.*`; it must not re-register.
if __package__ == "hf_emotion.model":  # this package, not the copy saved beside a model
    AutoConfig.register(EmotionConfig.model_type, EmotionConfig, exist_ok=True)
