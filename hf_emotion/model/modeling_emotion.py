"""Speech emotion model: pretrained speech encoder + weighted layer sum + pooling + classifier and regressor.

Shapes use B = batch, S = audio samples, M = mel bins, T = mel frames, F = encoder frames, L = hidden states
(embeddings output + one per layer), H = encoder hidden size, P = `classifier_proj_size`, C = number of emotions,
R = number of regression targets (valence, arousal).

This file is copied next to the weights by `save_pretrained`, together with `configuration_emotion.py`, so it
imports nothing else from `hf_emotion` and the pair loads on its own with `trust_remote_code=True`.
"""

import os
from dataclasses import dataclass

import torch
from torch import nn
from transformers import (
    AutoModel,
    AutoModelForAudioClassification,
    PreTrainedModel,
    WhisperModel,
)
from transformers import initialization as init
from transformers.masking_utils import create_bidirectional_mask
from transformers.models.whisper.modeling_whisper import WhisperEncoder, _compute_mask_indices
from transformers.utils import ModelOutput, logging

from .configuration_emotion import EmotionConfig

logger = logging.get_logger(__name__)


def ccc(predictions: torch.Tensor, targets: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Lin's concordance correlation coefficient over the batch (first) dimension.

    `2 cov(x, y) / (var(x) + var(y) + (mean(x) - mean(y))^2)` with population (1/N) moments, as in Lin (1989).

    Args:
        predictions: `(B,)` or `(B, R)`.
        targets: Same shape as `predictions`.
        eps: Added to the denominator so a constant batch gives 0 instead of NaN.

    Returns:
        A scalar for 1-D inputs, else one value per column, `(R,)`; each in `[-1, 1]`.
    """
    predictions = predictions.float()
    targets = targets.float()
    pred_mean, target_mean = predictions.mean(dim=0), targets.mean(dim=0)
    pred_var = predictions.var(dim=0, unbiased=False)
    target_var = targets.var(dim=0, unbiased=False)
    covariance = ((predictions - pred_mean) * (targets - target_mean)).mean(dim=0)
    return 2 * covariance / (pred_var + target_var + (pred_mean - target_mean) ** 2 + eps)


def ccc_loss(predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """`sum over columns of (1 - CCC)`: 0 for perfect agreement, up to 2 per column. Shapes as in [`ccc`]."""
    return (1.0 - ccc(predictions, targets)).sum()


@dataclass
class EmotionModelOutput(ModelOutput):
    """Output of [`EmotionModel`].

    Args:
        loss (`torch.FloatTensor` of shape `()`, *optional*):
            `classification_loss + ccc_loss_weight * regression_loss`, over whichever targets were given.
        logits (`torch.FloatTensor` of shape `(B, C)`):
            Emotion scores before softmax.
        valence_arousal (`torch.FloatTensor` of shape `(B, R)`):
            Regression outputs in `[-1, 1]`, columns in `config.regression_targets` order (mixed with the
            classifier's expected class coordinates when `config.valence_arousal_class_weight` is set).
        classification_loss (`torch.FloatTensor` of shape `()`, *optional*):
            Cross-entropy (with the config's class weights and label smoothing), when `labels` were given.
        regression_loss (`torch.FloatTensor` of shape `()`, *optional*):
            `sum over the given targets of (1 - CCC)` over the batch, when `valence` and/or `arousal` were given.
        hidden_states (`tuple(torch.FloatTensor)`, *optional*):
            The encoder's L hidden states, each `(B, F, H)`, when `output_hidden_states=True`.
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    valence_arousal: torch.FloatTensor | None = None
    classification_loss: torch.FloatTensor | None = None
    regression_loss: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None


class EmotionPreTrainedModel(PreTrainedModel):
    """Weight initialisation and the `from_pretrained` plumbing for [`EmotionModel`]."""

    config: EmotionConfig
    config_class = EmotionConfig
    base_model_prefix = "emotion"
    main_input_name = "input_values"
    input_modalities = ("audio",)
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _supports_flash_attn = True

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        # The encoder is a PreTrainedModel and is initialised by its own `_init_weights`; only the heads land here.
        if isinstance(module, nn.Linear):
            init.normal_(module.weight, mean=0.0, std=self.config.initializer_range)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, EmotionModel) and module.layer_weights is not None:
            init.constant_(module.layer_weights, 1.0 / module.layer_weights.numel())


class EmotionModel(EmotionPreTrainedModel):
    """Speech encoder → softmax-weighted sum of its hidden states → `projector` → masked pooling over time →
    `classifier` (emotion logits) and `regressor` (valence/arousal in `[-1, 1]`).

    Wav2vec2-like backbones (wav2vec2, HuBERT, WavLM, data2vec-audio) take raw audio `input_values` `(B, S)`;
    Whisper takes log-mel `input_features` `(B, M, T)` of any length up to 30 s, not padded to 30 s.

    Example:

    ```python
    >>> import torch
    >>> from transformers import Wav2Vec2Config
    >>> from hf_emotion.model.configuration_emotion import EmotionConfig
    >>> from hf_emotion.model.modeling_emotion import EmotionModel
    >>> encoder_config = Wav2Vec2Config(hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
    ...     intermediate_size=32, conv_dim=(8, 8), conv_stride=(5, 4), conv_kernel=(10, 8),
    ...     num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2, layerdrop=0.0)
    >>> config = EmotionConfig(encoder_config=encoder_config, id2label={0: "neutral", 1: "happy", 2: "sad"})
    >>> model = EmotionModel(config).eval()
    >>> out = model(input_values=torch.randn(2, 4000), labels=torch.tensor([0, 2]))
    >>> out.logits.shape, out.valence_arousal.shape, out.loss.shape
    (torch.Size([2, 3]), torch.Size([2, 2]), torch.Size([]))

    ```
    """

    def __init__(self, config: EmotionConfig):
        super().__init__(config)
        encoder_config = config.encoder_config
        self.is_whisper = config.is_whisper
        # The Trainer reads this to find the input tensor (e.g. for padding-free length grouping and FLOPs).
        self.main_input_name = "input_features" if self.is_whisper else "input_values"

        if self.is_whisper:
            self.encoder = WhisperEncoder(encoder_config)
        else:
            self.encoder = AutoModel.from_config(encoder_config)

        num_hidden_states = encoder_config.num_hidden_layers + 1  # transformer layers + embeddings output
        if config.use_weighted_layer_sum:
            self.layer_weights = nn.Parameter(torch.ones(num_hidden_states) / num_hidden_states)
        else:
            self.layer_weights = None
        self.projector = nn.Linear(encoder_config.hidden_size, config.classifier_proj_size)
        self.dropout = nn.Dropout(config.head_dropout)
        self.classifier = nn.Linear(config.classifier_proj_size, config.num_labels)
        self.regressor = nn.Linear(config.classifier_proj_size, len(config.regression_targets))

        self.post_init()

    # ------------------------------------------------------------------ building

    @classmethod
    def from_encoder_pretrained(
        cls,
        encoder_name_or_path: str | os.PathLike,
        *,
        id2label: dict[int, str] | list[str] | None = None,
        **config_kwargs,
    ) -> "EmotionModel":
        """A model whose encoder carries pretrained weights and whose heads are freshly initialised.

        Args:
            encoder_name_or_path: Hub id or folder of a wav2vec2/HuBERT/WavLM/data2vec-audio model, or of a
                Whisper model (`WhisperModel` or `WhisperForConditionalGeneration`; only the encoder is kept).
            id2label: Emotion names by index, or a list of names in index order.
            **config_kwargs: Any other [`EmotionConfig`] field (e.g. `class_weights`, `pooling`).

        Returns:
            The model, in training mode like any freshly built module.
        """
        config = EmotionConfig.from_encoder(encoder_name_or_path, id2label=id2label, **config_kwargs)
        model = cls(config)
        folder = str(encoder_name_or_path)
        if os.path.isdir(folder) and not any(
            name.endswith((".safetensors", ".bin", ".safetensors.index.json", ".bin.index.json"))
            for name in os.listdir(folder)
        ):
            # A folder with only config.json: a deliberately untrained encoder (tests, ablations).
            logger.warning("%s holds no weights: the encoder keeps its random initialisation", folder)
            return model
        if model.is_whisper:
            pretrained_encoder = WhisperModel.from_pretrained(encoder_name_or_path).encoder
        else:
            pretrained_encoder = AutoModel.from_pretrained(encoder_name_or_path)
        # strict=True: a key mismatch means the folder holds something other than its config says.
        model.encoder.load_state_dict(pretrained_encoder.state_dict(), strict=True)
        return model

    # ------------------------------------------------------------------ freezing and optimiser groups

    def freeze_feature_encoder(self) -> None:
        """Stop gradients into the convolutional front end (wav2vec2-like: the CNN feature encoder; Whisper:
        `conv1`/`conv2`), the usual first step of fine-tuning on little data."""
        if self.is_whisper:
            for module in (self.encoder.conv1, self.encoder.conv2):
                module.requires_grad_(False)
        else:
            self.encoder.feature_extractor._freeze_parameters()

    def freeze_base_model(self) -> None:
        """Stop gradients into the whole encoder; only `layer_weights`, `projector` and the heads train."""
        self.encoder.requires_grad_(False)

    def unfreeze_base_model(self) -> None:
        """Undo [`freeze_base_model`] and [`freeze_feature_encoder`]. Whisper's sinusoidal position table stays
        frozen, as it is in Whisper itself."""
        self.encoder.requires_grad_(True)
        if self.is_whisper:
            self.encoder.embed_positions.requires_grad_(False)
        else:
            self.encoder.feature_extractor._requires_grad = True

    def parameter_groups(
        self, backbone_lr: float, head_lr: float, weight_decay: float = 0.0
    ) -> list[dict[str, object]]:
        """Optimiser parameter groups: encoder at `backbone_lr`, everything else (`layer_weights`, `projector`,
        `classifier`, `regressor`) at `head_lr`.

        Biases, norm scales and `layer_weights` (every parameter with fewer than 2 dimensions) get no weight
        decay. Only parameters with `requires_grad` are included, each exactly once; empty groups are dropped.

        Returns:
            A list for `torch.optim.AdamW(groups)`; each group has `params`, `lr`, `weight_decay` and a `name`.
        """
        groups = {
            (part, decay): {"name": f"{part}_{'decay' if decay else 'no_decay'}", "params": []}
            for part in ("backbone", "head")
            for decay in (True, False)
        }
        for name, param in self.named_parameters():
            if not param.requires_grad:
                continue
            part = "backbone" if name.startswith("encoder.") else "head"
            groups[(part, param.ndim >= 2)]["params"].append(param)
        result = []
        for (part, decay), group in groups.items():
            if group["params"]:
                group["lr"] = backbone_lr if part == "backbone" else head_lr
                group["weight_decay"] = weight_decay if decay else 0.0
                result.append(group)
        return result

    # ------------------------------------------------------------------ encoders

    def _encode_wav2vec2_like(
        self, input_values: torch.Tensor, attention_mask: torch.Tensor | None
    ) -> tuple[tuple[torch.Tensor, ...], torch.Tensor | None]:
        """`(B, S)` audio → L hidden states `(B, F, H)` and the frame mask `(B, F)` (None: no padding)."""
        if input_values.ndim != 2:
            raise ValueError(
                f"{self.config.encoder_config.model_type} expects raw audio `input_values` of shape (batch, samples), "
                f"got shape {tuple(input_values.shape)}."
            )
        outputs = self.encoder(input_values, attention_mask=attention_mask, output_hidden_states=True)
        hidden_states = outputs.hidden_states
        frame_mask = None
        if attention_mask is not None:
            frame_mask = self.encoder._get_feature_vector_attention_mask(
                hidden_states[-1].shape[1], attention_mask
            )
        return hidden_states, frame_mask

    def _encode_whisper(
        self, input_features: torch.Tensor, attention_mask: torch.Tensor | None
    ) -> tuple[tuple[torch.Tensor, ...], torch.Tensor | None]:
        """`(B, M, T)` log-mel → L hidden states `(B, ceil(T/2), H)` and the frame mask (None: no padding).

        `WhisperEncoder.forward` only accepts exactly 30 s (3000 frames). Here the same computation runs at the
        input's own length: the sinusoidal position table is sliced to the frames present (weights untouched),
        padded mel frames are zeroed (the value the convolutions pad with, so a padded item sees the same edge as
        the item alone) and masked out of self-attention.
        """
        encoder = self.encoder
        if input_features.ndim != 3 or input_features.shape[1] != encoder.num_mel_bins:
            raise ValueError(
                f"Whisper expects log-mel `input_features` of shape (batch, {encoder.num_mel_bins}, frames), "
                f"got shape {tuple(input_features.shape)}."
            )
        max_frames = 2 * encoder.max_source_positions
        num_frames = input_features.shape[-1]
        if num_frames > max_frames:
            seconds = max_frames * 0.01  # the Whisper feature extractor hops 10 ms
            raise ValueError(
                f"Whisper input has {num_frames} mel frames, more than the encoder's {max_frames} "
                f"(~{seconds:g} s of audio). Crop or split the audio into pieces of at most {seconds:g} s."
            )
        if attention_mask is not None:
            input_features = input_features * attention_mask[:, None, :].to(input_features.dtype)
        if self.training:
            input_features = self._spec_augment_whisper(input_features, attention_mask)
        if num_frames % 2:  # conv2 has stride 2: pad odd lengths with one (zero) frame
            input_features = nn.functional.pad(input_features, (0, 1))
            if attention_mask is not None:
                attention_mask = nn.functional.pad(attention_mask, (0, 1))

        hidden = nn.functional.gelu(encoder.conv1(input_features))  # (B, H, T)
        hidden = nn.functional.gelu(encoder.conv2(hidden)).permute(0, 2, 1)  # (B, F, H), F = T / 2
        hidden = hidden + encoder.embed_positions.weight[: hidden.shape[1]]
        hidden = nn.functional.dropout(hidden, p=encoder.dropout, training=self.training)

        frame_mask = None if attention_mask is None else attention_mask[:, ::2].bool()  # (B, F)
        attention_bias = create_bidirectional_mask(
            config=encoder.config, inputs_embeds=hidden, attention_mask=frame_mask
        )
        all_hidden_states = [hidden]
        for layer in encoder.layers:
            if self.training and encoder.layerdrop > 0.0 and torch.rand([]) < encoder.layerdrop:
                all_hidden_states.append(hidden)  # LayerDrop: the layer is skipped
                continue
            hidden = layer(hidden, attention_bias)
            all_hidden_states.append(hidden)
        # As in Whisper, the last hidden state is the one after the final layer norm.
        all_hidden_states[-1] = encoder.layer_norm(all_hidden_states[-1])
        return tuple(all_hidden_states), frame_mask

    def _spec_augment_whisper(
        self, input_features: torch.Tensor, attention_mask: torch.Tensor | None
    ) -> torch.Tensor:
        """SpecAugment on `(B, M, T)` log-mel, as `WhisperModel._mask_input_features` does: when the encoder
        config's `apply_spec_augment` is set, spans of `mask_time_length` frames (within each clip's own frames)
        and of `mask_feature_length` mel bins are set to 0, with probabilities `mask_time_prob` and
        `mask_feature_prob`. Training only; returns a new tensor and leaves the input as it was."""
        config = self.encoder.config
        if not getattr(config, "apply_spec_augment", False):
            return input_features
        batch_size, num_mel_bins, num_frames = input_features.shape
        keep = torch.ones_like(input_features, dtype=torch.bool)
        if config.mask_time_prob > 0:
            masked_frames = _compute_mask_indices(
                (batch_size, num_frames),
                mask_prob=config.mask_time_prob,
                mask_length=config.mask_time_length,
                attention_mask=attention_mask,
                min_masks=config.mask_time_min_masks,
            )
            keep &= ~torch.as_tensor(masked_frames, device=input_features.device)[:, None, :]
        if config.mask_feature_prob > 0:
            masked_bins = _compute_mask_indices(
                (batch_size, num_mel_bins),
                mask_prob=config.mask_feature_prob,
                mask_length=config.mask_feature_length,
                min_masks=config.mask_feature_min_masks,
            )
            keep &= ~torch.as_tensor(masked_bins, device=input_features.device)[:, :, None]
        return input_features * keep.to(input_features.dtype)

    def configure_spec_augment(self, **settings) -> None:
        """Set the encoder's SpecAugment fields (`mask_time_prob`, `mask_time_length`, `mask_feature_prob`,
        `mask_feature_length`; None leaves a field as it is). wav2vec2-like encoders mask their hidden states
        with them while training (their `apply_spec_augment` defaults to on); for Whisper, whose Hub configs
        turn it off, `apply_spec_augment` follows whether any probability given is above 0. The fields are
        saved with the model's config; prediction never masks."""
        settings = {name: value for name, value in settings.items() if value is not None}
        unknown = sorted(
            set(settings) - {"mask_time_prob", "mask_time_length", "mask_feature_prob", "mask_feature_length"}
        )
        if unknown:
            raise ValueError(f"configure_spec_augment: unknown settings {unknown}")
        for name in ("mask_time_prob", "mask_feature_prob"):
            if name in settings and not 0.0 <= settings[name] < 1.0:
                raise ValueError(f"--{name}={settings[name]} must be in [0, 1).")
        for name in ("mask_time_length", "mask_feature_length"):
            if name in settings and settings[name] < 1:
                raise ValueError(f"--{name}={settings[name]} must be at least 1.")
        if not settings:
            return
        if self.is_whisper:
            probabilities = [
                settings.get(name, getattr(self.encoder.config, name))
                for name in ("mask_time_prob", "mask_feature_prob")
            ]
            settings["apply_spec_augment"] = any(probability > 0 for probability in probabilities)
        for name, value in settings.items():  # the encoder's config is `self.config.encoder_config` itself
            setattr(self.encoder.config, name, value)

    # ------------------------------------------------------------------ forward

    def _pool(self, frames: torch.Tensor, frame_mask: torch.Tensor | None) -> torch.Tensor:
        """`(B, F, P)` frames → `(B, P)`, over the frames where `frame_mask` is true (all frames if None)."""
        if frame_mask is None:
            return frames.mean(dim=1) if self.config.pooling == "mean" else frames.amax(dim=1)
        mask = frame_mask[:, :, None].to(frames.dtype)  # (B, F, 1)
        if self.config.pooling == "mean":
            return (frames * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
        return frames.masked_fill(mask == 0, torch.finfo(frames.dtype).min).amax(dim=1)

    def _projected_frames(
        self, inputs: torch.Tensor, attention_mask: torch.Tensor | None
    ) -> tuple[tuple[torch.Tensor, ...], torch.Tensor, torch.Tensor | None]:
        """Encoder → `(L hidden states (B, F, H), projected frames (B, F, P), frame mask (B, F) or None)`: the
        frames are the layer-weighted sum of the hidden states through `projector`, what pooling reads."""
        if self.is_whisper:
            hidden_states, frame_mask = self._encode_whisper(inputs, attention_mask)
        else:
            hidden_states, frame_mask = self._encode_wav2vec2_like(inputs, attention_mask)
        if self.layer_weights is not None:
            weights = nn.functional.softmax(self.layer_weights, dim=-1)  # (L,)
            frames = (torch.stack(hidden_states, dim=1) * weights[None, :, None, None]).sum(
                dim=1
            )  # (B, F, H)
        else:
            frames = hidden_states[-1]
        return hidden_states, self.projector(frames), frame_mask

    def embeddings(
        self,
        input_values: torch.Tensor | None = None,
        input_features: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """What both heads read, for people's own classifiers and clustering (as emotion2vec's embeddings).

        Returns:
            `(utterance (B, P), frames (B, F, P), frame_mask (B, F))`: the projected, layer-weighted encoder
            frames pooled over the clip (the vector `classifier` and `regressor` take, before dropout), the
            frames themselves, and which frames are the clip's own (1) rather than padding (0).
        """
        if (input_values is None) == (input_features is None):
            raise ValueError("Pass exactly one of `input_values` (raw audio) or `input_features` (log-mel).")
        inputs = input_values if input_values is not None else input_features
        _, frames, frame_mask = self._projected_frames(inputs, attention_mask)
        if frame_mask is None:
            frame_mask = torch.ones(frames.shape[:2], dtype=torch.long, device=frames.device)
        return self._pool(frames, frame_mask), frames, frame_mask.long()

    def pooled_hidden_states(
        self,
        input_values: torch.Tensor | None = None,
        input_features: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Every hidden state mean-pooled over its unpadded frames: `(B, L, H)`.

        With `pooling="mean"` this is all the heads see of a clip (the projector is affine, so it commutes with
        the mean), so [`heads_from_pooled`] on it gives the same logits and regressor output as `forward` (before
        any class mixing). Computed once with a frozen encoder, it lets the heads be fitted on cached features in
        seconds (see `hf_emotion.training.heads.fit_heads_on_pooled_features`).
        """
        if (input_values is None) == (input_features is None):
            raise ValueError("Pass exactly one of `input_values` (raw audio) or `input_features` (log-mel).")
        inputs = input_values if input_values is not None else input_features
        if self.is_whisper:
            hidden_states, frame_mask = self._encode_whisper(inputs, attention_mask)
        else:
            hidden_states, frame_mask = self._encode_wav2vec2_like(inputs, attention_mask)
        stacked = torch.stack(hidden_states, dim=1)  # (B, L, F, H)
        if frame_mask is None:
            return stacked.mean(dim=2)
        mask = frame_mask[:, None, :, None].to(stacked.dtype)  # (B, 1, F, 1)
        return (stacked * mask).sum(dim=2) / mask.sum(dim=2).clamp(min=1.0)

    def heads_from_pooled(self, pooled_hidden_states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`(B, L, H)` from [`pooled_hidden_states`] → `(logits (B, C), valence_arousal (B, R))`.

        Only for `pooling="mean"`: a maximum over frames does not commute with the projector.
        """
        if self.config.pooling != "mean":
            raise ValueError(f"heads_from_pooled needs pooling='mean', the model has {self.config.pooling!r}")
        if self.layer_weights is not None:
            weights = nn.functional.softmax(self.layer_weights, dim=-1)  # (L,)
            mixed = (pooled_hidden_states * weights[None, :, None]).sum(dim=1)  # (B, H)
        else:
            mixed = pooled_hidden_states[:, -1]
        pooled = self.dropout(self.projector(mixed))  # (B, P)
        return self.classifier(pooled), torch.tanh(self.regressor(pooled))

    def mix_class_valence_arousal(self, logits: torch.Tensor, valence_arousal: torch.Tensor) -> torch.Tensor:
        """The regressor's `(B, R)` output mixed with the classifier's expectation of the class coordinates.

        `(1 - w) * valence_arousal + w * softmax(logits) @ config.class_valence_arousal`, with one `w` per target
        from `config.valence_arousal_class_weight`; the regressor's output unchanged when that is unset or 0.
        """
        weights = self.config.valence_arousal_class_weight
        if not weights or not any(weights):
            return valence_arousal
        coordinates = torch.tensor(
            self.config.class_valence_arousal, dtype=torch.float32, device=valence_arousal.device
        )  # (C, R)
        weights = torch.tensor(weights, dtype=torch.float32, device=valence_arousal.device)  # (R,)
        expected = nn.functional.softmax(logits.float(), dim=-1) @ coordinates  # (B, R)
        mixed = (1.0 - weights) * valence_arousal.float() + weights * expected
        return mixed.to(valence_arousal.dtype)

    def compute_loss(
        self,
        logits: torch.Tensor,
        valence_arousal: torch.Tensor,
        labels: torch.Tensor | None = None,
        valence: torch.Tensor | None = None,
        arousal: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
        """`(loss, classification_loss, regression_loss)`, each None when its targets are not given.

        Cross-entropy with the config's class weights and label smoothing, plus `ccc_loss_weight` ×
        `sum over the given dimensions of (1 - CCC)`; clips whose dimensional targets are NaN are left out of
        the CCC.
        """
        classification_loss = regression_loss = loss = None
        if labels is not None:
            class_weights = self.config.class_weights
            if class_weights is not None:
                class_weights = torch.tensor(class_weights, dtype=torch.float32, device=logits.device)
            # in float32 so a bf16/fp16 model still gets an accurate loss
            classification_loss = nn.functional.cross_entropy(
                logits.float(),
                labels.to(logits.device).long().view(-1),
                weight=class_weights,
                label_smoothing=self.config.label_smoothing,
            )
            loss = classification_loss
        given = {"valence": valence, "arousal": arousal}
        for name, target in given.items():
            if target is not None and name not in self.config.regression_targets:
                raise ValueError(
                    f"Got `{name}` targets but the model only predicts {self.config.regression_targets} "
                    "(config.regression_targets)."
                )
        columns = [i for i, name in enumerate(self.config.regression_targets) if given[name] is not None]
        if columns:
            targets = torch.stack(
                [
                    given[self.config.regression_targets[i]].to(logits.device).float().view(-1)
                    for i in columns
                ],
                dim=-1,
            )  # (B, given targets)
            # Clips without dimensional targets (NaN: a label with no circumplex coordinate in a
            # generic dataset) are left out of the CCC; it needs two clips to mean anything.
            known = torch.isfinite(targets).all(dim=-1)
            if int(known.sum()) >= 2:
                regression_loss = ccc_loss(valence_arousal[known][:, columns], targets[known])
                weighted = self.config.ccc_loss_weight * regression_loss
                loss = weighted if loss is None else loss + weighted
        return loss, classification_loss, regression_loss

    def forward(
        self,
        input_values: torch.Tensor | None = None,
        input_features: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        valence: torch.Tensor | None = None,
        arousal: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> EmotionModelOutput | tuple:
        r"""
        Args:
            input_values (`torch.FloatTensor` of shape `(B, S)`):
                Raw audio for wav2vec2-like backbones. Either keyword works for either backbone.
            input_features (`torch.FloatTensor` of shape `(B, M, T)`):
                Log-mel features for Whisper, `T` at most 3000 (30 s).
            attention_mask (`torch.LongTensor` of shape `(B, S)` or `(B, T)`, *optional*):
                1 for real samples (wav2vec2-like) or mel frames (Whisper), 0 for padding. Without it every frame
                is pooled.
            labels (`torch.LongTensor` of shape `(B,)`, *optional*):
                Emotion class indices, for the cross-entropy.
            valence (`torch.FloatTensor` of shape `(B,)`, *optional*):
                Valence targets in `[-1, 1]`, for the CCC loss.
            arousal (`torch.FloatTensor` of shape `(B,)`, *optional*):
                Arousal targets in `[-1, 1]`, for the CCC loss.
            output_hidden_states (`bool`, *optional*):
                Also return the encoder's hidden states.
            return_dict (`bool`, *optional*):
                Return an [`EmotionModelOutput`] (default) or a plain tuple.

        Returns:
            [`EmotionModelOutput`]; `loss` only when `labels`, `valence` or `arousal` is given.
        """
        kwargs.pop("num_items_in_batch", None)  # passed by the Trainer; the losses here are batch means
        if kwargs:
            raise TypeError(f"EmotionModel.forward() got unexpected arguments: {sorted(kwargs)}.")
        if (input_values is None) == (input_features is None):
            raise ValueError("Pass exactly one of `input_values` (raw audio) or `input_features` (log-mel).")
        inputs = input_values if input_values is not None else input_features
        output_hidden_states = (
            output_hidden_states if output_hidden_states is not None else self.config.output_hidden_states
        )
        return_dict = return_dict if return_dict is not None else self.config.return_dict

        hidden_states, frames, frame_mask = self._projected_frames(inputs, attention_mask)
        pooled = self.dropout(self._pool(frames, frame_mask))  # (B, P)
        logits = self.classifier(pooled)  # (B, C)
        valence_arousal = torch.tanh(self.regressor(pooled))  # (B, R)
        # The losses train the regressor itself; the class mixing is chosen after training.
        loss, classification_loss, regression_loss = self.compute_loss(
            logits, valence_arousal, labels=labels, valence=valence, arousal=arousal
        )

        output = EmotionModelOutput(
            loss=loss,
            logits=logits,
            valence_arousal=self.mix_class_valence_arousal(logits, valence_arousal),
            classification_loss=classification_loss,
            regression_loss=regression_loss,
            hidden_states=hidden_states if output_hidden_states else None,
        )
        return output if return_dict else output.to_tuple()


EmotionModel.register_for_auto_class("AutoModelForAudioClassification")

# Local registration, so `AutoModelForAudioClassification.from_pretrained(folder)` works after `import hf_emotion`.
# The copy of this file that `save_pretrained` writes is imported under `transformers_modules.*`; it must not
# re-register.
if __package__ == "hf_emotion.model":  # this package, not the copy saved beside a model
    AutoModelForAudioClassification.register(EmotionConfig, EmotionModel, exist_ok=True)
