"""Tests of `EmotionConfig` / `EmotionModel` on tiny random backbones built in code (no network)."""

import json
import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from transformers import (
    AutoConfig,
    AutoModelForAudioClassification,
    Data2VecAudioConfig,
    HubertConfig,
    Wav2Vec2Config,
    Wav2Vec2Model,
    WavLMConfig,
    WhisperConfig,
    WhisperForConditionalGeneration,
    WhisperModel,
)

from hf_emotion.model.configuration_emotion import EmotionConfig
from hf_emotion.model.modeling_emotion import EmotionModel, EmotionModelOutput, ccc, ccc_loss

LABELS = {0: "neutral", 1: "happy", 2: "sad", 3: "angry"}

# Tiny backbones: 16 hidden, 2 layers, 2 heads, a 2-layer CNN with a total stride of 20 samples.
TINY_WAV2VEC2_LIKE = dict(
    hidden_size=16,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=32,
    conv_dim=(8, 8),
    conv_stride=(5, 4),
    conv_kernel=(10, 8),
    num_conv_pos_embeddings=16,
    num_conv_pos_embedding_groups=2,
    # "layer" norm in the CNN (as in wav2vec2-large-lv60): per frame, so padding cannot leak into real frames.
    feat_extract_norm="layer",
    do_stable_layer_norm=True,
)
TINY_WHISPER = dict(
    d_model=16,
    encoder_layers=2,
    encoder_attention_heads=2,
    encoder_ffn_dim=32,
    decoder_layers=1,
    decoder_attention_heads=2,
    decoder_ffn_dim=32,
    num_mel_bins=80,
    max_source_positions=1500,
    vocab_size=64,
    pad_token_id=0,
    bos_token_id=1,
    eos_token_id=2,
    decoder_start_token_id=3,
    begin_suppress_tokens=None,
)


def tiny_encoder_config(model_type: str):
    if model_type == "whisper":
        return WhisperConfig(**TINY_WHISPER)
    config_class = {
        "wav2vec2": Wav2Vec2Config,
        "hubert": HubertConfig,
        "wavlm": WavLMConfig,
        "data2vec-audio": Data2VecAudioConfig,
    }[model_type]
    kwargs = dict(TINY_WAV2VEC2_LIKE)
    if model_type == "wavlm":
        kwargs.update(num_buckets=16, max_bucket_distance=32)
    if model_type == "data2vec-audio":
        kwargs.pop("feat_extract_norm")
        kwargs.pop("do_stable_layer_norm")
        kwargs.update(num_conv_pos_embeddings=5, num_conv_pos_embedding_groups=2)
    return config_class(**kwargs)


def tiny_model(model_type: str = "wav2vec2", seed: int = 0, **config_kwargs) -> EmotionModel:
    torch.manual_seed(seed)
    config_kwargs.setdefault("classifier_proj_size", 8)
    config = EmotionConfig(encoder_config=tiny_encoder_config(model_type), id2label=LABELS, **config_kwargs)
    model = EmotionModel(config).eval()
    # Larger head weights than the 0.02-std init, so outputs differ visibly between inputs.
    with torch.no_grad():
        for head in (model.projector, model.classifier, model.regressor):
            head.weight.normal_(std=0.5)
            head.bias.normal_(std=0.1)
    return model


def tiny_inputs(model_type: str, batch: int = 2, seed: int = 1) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    if model_type == "whisper":
        return {"input_features": torch.randn(batch, 80, 60, generator=generator)}
    return {"input_values": torch.randn(batch, 1600, generator=generator)}


# ---------------------------------------------------------------------------- config


def test_config_round_trip_keeps_nested_encoder_config(tmp_path):
    config = EmotionConfig.from_encoder(
        WhisperConfig(**TINY_WHISPER), id2label=list(LABELS.values()), class_weights=[1, 2, 3, 4]
    )
    config.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["model_type"] == "hf_emotion"
    assert saved["encoder_config"]["model_type"] == "whisper"
    assert saved["auto_map"] == {"AutoConfig": "configuration_emotion.EmotionConfig"}

    reloaded = AutoConfig.from_pretrained(tmp_path)
    assert type(reloaded) is EmotionConfig
    assert type(reloaded.encoder_config) is WhisperConfig
    assert reloaded.encoder_config.to_dict() == config.encoder_config.to_dict()
    assert reloaded.id2label == LABELS and reloaded.label2id == {v: k for k, v in LABELS.items()}
    assert reloaded.regression_targets == ["valence", "arousal"]
    assert reloaded.class_weights == [1.0, 2.0, 3.0, 4.0]


def test_config_from_encoder_reads_a_folder(tmp_path):
    tiny_encoder_config("hubert").save_pretrained(tmp_path)
    config = EmotionConfig.from_encoder(str(tmp_path), id2label=LABELS, pooling="max")
    assert config.encoder_config.model_type == "hubert" and config.pooling == "max" and config.num_labels == 4


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(encoder_config={"model_type": "bert"}), "not supported"),
        (dict(class_weights=[1.0, 2.0]), "one weight per label"),
        (dict(regression_targets=["dominance"]), "regression_targets"),
        (dict(pooling="attention"), "pooling"),
        (dict(label_smoothing=1.0), "label_smoothing"),
        (dict(class_valence_arousal=[[0.0, 0.0]] * 3), "one row per label"),
        (dict(class_valence_arousal=[[0.0]] * 4), "one column per regression target"),
        (
            dict(class_valence_arousal=[[0.0, 0.0]] * 4, valence_arousal_class_weight=[0.5]),
            r"one weight in \[0, 1\]",
        ),
        (dict(class_valence_arousal=[[0.0, 0.0]] * 4, valence_arousal_class_weight=[0.5, 1.5]), r"\[0, 1\]"),
        (dict(valence_arousal_class_weight=[0.5, 0.0]), "needs class_valence_arousal"),
    ],
)
def test_config_rejects_bad_values(kwargs, message):
    kwargs = {"encoder_config": tiny_encoder_config("wav2vec2"), "id2label": LABELS, **kwargs}
    with pytest.raises(ValueError, match=message):
        EmotionConfig(**kwargs)


# ---------------------------------------------------------------------------- shapes and pooling


@pytest.mark.parametrize("model_type", ["wav2vec2", "hubert", "wavlm", "data2vec-audio", "whisper"])
def test_output_shapes(model_type):
    model = tiny_model(model_type)
    assert model.main_input_name == ("input_features" if model_type == "whisper" else "input_values")
    with torch.no_grad():
        out = model(**tiny_inputs(model_type, batch=3), output_hidden_states=True)
    assert isinstance(out, EmotionModelOutput)
    assert out.logits.shape == (3, 4)
    assert out.valence_arousal.shape == (3, 2)
    assert out.valence_arousal.abs().max() <= 1.0
    assert out.loss is None and out.classification_loss is None and out.regression_loss is None
    assert len(out.hidden_states) == 3  # embeddings output + 2 layers
    assert model.layer_weights.shape == (3,)


def test_either_input_keyword_works_and_return_dict_false_gives_a_tuple():
    model = tiny_model("wav2vec2")
    audio = tiny_inputs("wav2vec2")["input_values"]
    with torch.no_grad():
        a = model(input_values=audio).logits
        b = model(input_features=audio).logits
        as_tuple = model(input_values=audio, return_dict=False)
    torch.testing.assert_close(a, b)
    assert isinstance(as_tuple, tuple) and torch.equal(as_tuple[0], a)
    with pytest.raises(ValueError, match="exactly one"):
        model(input_values=audio, input_features=audio)


@pytest.mark.parametrize("pooling", ["mean", "max"])
@pytest.mark.parametrize("use_weighted_layer_sum", [True, False])
def test_wav2vec2_padded_batch_matches_items_alone(pooling, use_weighted_layer_sum):
    model = tiny_model("wav2vec2", pooling=pooling, use_weighted_layer_sum=use_weighted_layer_sum)
    generator = torch.Generator().manual_seed(3)
    short, long = torch.randn(1000, generator=generator), torch.randn(1600, generator=generator)
    batch = torch.zeros(2, 1600)
    batch[0, :1000], batch[1] = short, long
    batch[0, 1000:] = 5.0  # padding garbage must not matter
    mask = torch.zeros(2, 1600, dtype=torch.long)
    mask[0, :1000], mask[1] = 1, 1
    with torch.no_grad():
        together = model(input_values=batch, attention_mask=mask)
        alone = model(input_values=short[None])
        alone_long = model(input_values=long[None])
    torch.testing.assert_close(together.logits[0], alone.logits[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(together.valence_arousal[0], alone.valence_arousal[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(together.logits[1], alone_long.logits[0], atol=1e-5, rtol=0)


@pytest.mark.parametrize("model_type", ["wav2vec2", "whisper"])
@pytest.mark.parametrize("use_weighted_layer_sum", [True, False])
def test_heads_on_pooled_hidden_states_give_the_forward_outputs(model_type, use_weighted_layer_sum):
    # The linear-probe warm start fits the heads on cached pooled features; that is only right if
    # heads_from_pooled(pooled_hidden_states(x)) is exactly forward(x), padding included.
    model = tiny_model(model_type, use_weighted_layer_sum=use_weighted_layer_sum)
    inputs = tiny_inputs(model_type, batch=3)
    key = next(iter(inputs))
    mask = torch.ones(3, inputs[key].shape[-1], dtype=torch.long)
    mask[0, mask.shape[1] // 2 :] = 0
    with torch.no_grad():
        full = model(**inputs, attention_mask=mask)
        pooled = model.pooled_hidden_states(**inputs, attention_mask=mask)
        logits, valence_arousal = model.heads_from_pooled(pooled)
    num_layers = model.config.encoder_config.num_hidden_layers + 1
    assert pooled.shape == (3, num_layers, model.config.encoder_config.hidden_size)
    torch.testing.assert_close(logits, full.logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(valence_arousal, full.valence_arousal, atol=1e-5, rtol=1e-5)


CLASS_VALENCE_AROUSAL = [[0.0, 0.0], [0.8, 0.5], [-0.6, -0.3], [-0.5, 0.6]]


def test_class_mixing_of_valence_arousal():
    plain = tiny_model("wav2vec2", class_valence_arousal=CLASS_VALENCE_AROUSAL)
    mixing = tiny_model(
        "wav2vec2", class_valence_arousal=CLASS_VALENCE_AROUSAL, valence_arousal_class_weight=[0.25, 1.0]
    )
    off = tiny_model(
        "wav2vec2", class_valence_arousal=CLASS_VALENCE_AROUSAL, valence_arousal_class_weight=[0, 0]
    )
    inputs = tiny_inputs("wav2vec2", batch=3)
    targets = dict(
        labels=torch.tensor([0, 1, 3]), valence=torch.tensor([0.0, 0.8, -0.5]), arousal=torch.zeros(3)
    )
    with torch.no_grad():
        raw, mixed, unmixed = plain(**inputs, **targets), mixing(**inputs, **targets), off(**inputs)
    expected = torch.softmax(raw.logits, dim=-1) @ torch.tensor(CLASS_VALENCE_AROUSAL)
    torch.testing.assert_close(
        mixed.valence_arousal[:, 0], 0.75 * raw.valence_arousal[:, 0] + 0.25 * expected[:, 0]
    )
    torch.testing.assert_close(mixed.valence_arousal[:, 1], expected[:, 1])
    assert not torch.allclose(mixed.valence_arousal, raw.valence_arousal)
    assert torch.equal(unmixed.valence_arousal, raw.valence_arousal)  # weight 0 is the regressor alone
    # training is untouched: the losses are the regressor's
    assert torch.equal(mixed.loss, raw.loss) and torch.equal(mixed.regression_loss, raw.regression_loss)


def test_heads_from_pooled_refuses_max_pooling():
    model = tiny_model("wav2vec2", pooling="max")
    with torch.no_grad():
        pooled = model.pooled_hidden_states(**tiny_inputs("wav2vec2"))
    with pytest.raises(ValueError, match="pooling='mean'"):
        model.heads_from_pooled(pooled)


@pytest.mark.parametrize("short_frames", [40, 37])  # even and odd mel lengths
def test_whisper_padded_batch_matches_items_alone(short_frames):
    model = tiny_model("whisper")
    generator = torch.Generator().manual_seed(4)
    short, long = torch.randn(80, short_frames, generator=generator), torch.randn(80, 64, generator=generator)
    batch = torch.full((2, 80, 64), -0.8)  # roughly what the feature extractor pads silence to
    batch[0, :, :short_frames], batch[1] = short, long
    mask = torch.zeros(2, 64, dtype=torch.long)
    mask[0, :short_frames], mask[1] = 1, 1
    with torch.no_grad():
        together = model(input_features=batch, attention_mask=mask)
        alone = model(input_features=short[None])
        alone_long = model(input_features=long[None])
    torch.testing.assert_close(together.logits[0], alone.logits[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(together.valence_arousal[0], alone.valence_arousal[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(together.logits[1], alone_long.logits[0], atol=1e-5, rtol=0)
    # and the padding really is masked: without the mask the short item's logits change
    with torch.no_grad():
        unmasked = model(input_features=batch)
    assert not torch.allclose(unmasked.logits[0], alone.logits[0], atol=1e-4)


def test_whisper_short_odd_length_and_too_long_input():
    model = tiny_model("whisper")
    with torch.no_grad():
        out = model(input_features=torch.randn(1, 80, 7), output_hidden_states=True)
        full = model(input_features=torch.randn(1, 80, 3000))
    assert out.logits.shape == (1, 4) and out.hidden_states[0].shape == (1, 4, 16)  # ceil(7 / 2) frames
    assert full.logits.shape == (1, 4)
    with pytest.raises(ValueError, match=r"3001 mel frames.*30 s"):
        model(input_features=torch.randn(1, 80, 3001))
    with pytest.raises(ValueError, match="log-mel"):
        model(input_features=torch.randn(1, 3000))
    # the position table itself is untouched
    assert model.encoder.embed_positions.weight.shape == (1500, 16)


def _conv1_inputs(model, **inputs) -> torch.Tensor:
    """The log-mel the Whisper encoder's first convolution sees in one forward pass."""
    seen = []
    handle = model.encoder.conv1.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach()))
    try:
        model(**inputs)
    finally:
        handle.remove()
    return seen[0]


def test_whisper_spec_augment_masks_time_and_mel_bins_only_while_training():
    model = tiny_model("whisper")
    model.configure_spec_augment(
        mask_time_prob=0.2, mask_time_length=5, mask_feature_prob=0.2, mask_feature_length=4
    )
    assert model.encoder.config.apply_spec_augment and model.config.encoder_config.mask_time_prob == 0.2
    features = torch.randn(3, 80, 60, generator=torch.Generator().manual_seed(3)) + 5.0  # no zeros of its own
    mask = torch.ones(3, 60, dtype=torch.long)
    mask[0, 30:] = 0  # the first clip has 30 frames, then padding
    original = features.clone()

    np.random.seed(0)  # `_compute_mask_indices` draws from numpy, which the Trainer seeds
    model.train()
    seen = _conv1_inputs(model, input_features=features, attention_mask=mask)
    torch.testing.assert_close(features, original)  # the caller's tensor is left alone
    zero = seen == 0
    masked_frames = zero.all(dim=1)  # (B, T): every mel bin zeroed
    masked_bins = zero.all(dim=2)  # (B, M): every frame zeroed
    assert masked_frames[0, :30].any() and masked_frames[1:].any(dim=1).all() and masked_bins.any(dim=1).all()
    # time masks stay within each clip's own frames (the padding is zero anyway)
    assert masked_frames[0, 30:].all() and not masked_frames[0, :30].all()
    # apart from the masks and the padding, the log-mel passes unchanged
    kept = ~zero
    torch.testing.assert_close(seen[kept], (features * mask[:, None, :])[kept])
    # spans of the configured lengths: every run of masked frames in the full clips is >= 5 long
    for row in masked_frames[1:]:
        runs = np.diff(np.flatnonzero(np.diff(np.r_[0, row.numpy().astype(int), 0])))[::2]
        assert len(runs) and (runs >= 5).all()

    model.eval()
    seen = _conv1_inputs(model, input_features=features, attention_mask=mask)
    assert not (seen[:, :, :30] == 0).any() and not (seen[1:] == 0).any()


def test_spec_augment_is_off_for_whisper_by_default_and_checks_its_settings():
    model = tiny_model("whisper").train()
    features = torch.randn(2, 80, 40, generator=torch.Generator().manual_seed(5)) + 5.0
    assert not (_conv1_inputs(model, input_features=features) == 0).any()  # Hub Whisper configs: off
    model.configure_spec_augment(mask_time_prob=0.3)
    assert model.encoder.config.apply_spec_augment
    model.configure_spec_augment(mask_time_prob=0.0, mask_feature_prob=0.0)
    assert not model.encoder.config.apply_spec_augment
    assert not (_conv1_inputs(model, input_features=features) == 0).any()
    with pytest.raises(ValueError, match="mask_time_prob=1.5"):
        model.configure_spec_augment(mask_time_prob=1.5)
    with pytest.raises(ValueError, match="mask_feature_length=0"):
        model.configure_spec_augment(mask_feature_length=0)
    # wav2vec2-like encoders read the same fields from their own config
    wav2vec2 = tiny_model("wav2vec2")
    wav2vec2.configure_spec_augment(mask_time_prob=0.3, mask_time_length=2)
    assert wav2vec2.encoder.config.mask_time_prob == 0.3 and wav2vec2.encoder.config.apply_spec_augment


def test_spec_augment_settings_survive_save_and_load(tmp_path):
    model = tiny_model("whisper")
    model.configure_spec_augment(mask_time_prob=0.1, mask_feature_prob=0.05, mask_feature_length=8)
    model.save_pretrained(tmp_path)
    loaded = EmotionModel.from_pretrained(tmp_path)
    encoder_config = loaded.encoder.config
    assert encoder_config.apply_spec_augment and encoder_config.mask_time_prob == 0.1
    assert (encoder_config.mask_feature_prob, encoder_config.mask_feature_length) == (0.05, 8)
    # and prediction is unaffected by them
    inputs = tiny_inputs("whisper")
    with torch.no_grad():
        torch.testing.assert_close(loaded.eval()(**inputs).logits, model.eval()(**inputs).logits)


# ---------------------------------------------------------------------------- losses


def test_ccc_of_identical_and_negated_vectors():
    x = torch.tensor([0.3, -0.2, 0.9, 0.1, -0.7])
    x = x - x.mean()  # -1 needs mean 0: CCC also penalises the gap between the means
    torch.testing.assert_close(ccc(x, x), torch.tensor(1.0))
    torch.testing.assert_close(ccc(x, -x), torch.tensor(-1.0))
    columns = torch.stack([x, x.flip(0)], dim=-1)
    torch.testing.assert_close(ccc(columns, columns), torch.ones(2))
    torch.testing.assert_close(ccc_loss(columns, -columns), torch.tensor(4.0))
    # shifted by a constant: correlation 1 but not concordant
    assert ccc(x, x + 1.0) < 0.5


def _numpy_ccc(x: np.ndarray, y: np.ndarray) -> float:
    return 2 * np.cov(x, y, bias=True)[0, 1] / (x.var() + y.var() + (x.mean() - y.mean()) ** 2)


def test_loss_only_when_targets_are_given():
    model = tiny_model("wav2vec2")
    inputs = tiny_inputs("wav2vec2", batch=3)
    labels = torch.tensor([0, 3, 1])
    valence, arousal = torch.tensor([0.5, -0.5, 0.1]), torch.tensor([0.2, 0.9, -0.3])
    with torch.no_grad():
        assert model(**inputs).loss is None
        only_ce = model(**inputs, labels=labels)
        only_ccc = model(**inputs, valence=valence, arousal=arousal)
        only_valence = model(**inputs, valence=valence)
        both = model(**inputs, labels=labels, valence=valence, arousal=arousal)
    assert only_ce.regression_loss is None and torch.equal(only_ce.loss, only_ce.classification_loss)
    assert only_ccc.classification_loss is None
    torch.testing.assert_close(only_ccc.loss, 0.5 * only_ccc.regression_loss)
    torch.testing.assert_close(both.loss, only_ce.loss + 0.5 * only_ccc.regression_loss)
    assert only_valence.regression_loss < only_ccc.regression_loss + 1e-6  # one term instead of two


def test_loss_matches_hand_computation():
    model = tiny_model("wav2vec2", ccc_loss_weight=0.7)
    inputs = tiny_inputs("wav2vec2", batch=4)
    labels = torch.tensor([0, 3, 1, 1])
    valence = torch.tensor([0.5, -0.5, 0.1, 0.0])
    arousal = torch.tensor([0.2, 0.9, -0.3, -0.8])
    with torch.no_grad():
        out = model(**inputs, labels=labels, valence=valence, arousal=arousal)
    logits = out.logits.double().numpy()
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    expected_ce = -log_probs[np.arange(4), labels.numpy()].mean()
    predictions = out.valence_arousal.double().numpy()
    expected_reg = (1 - _numpy_ccc(predictions[:, 0], valence.double().numpy())) + (
        1 - _numpy_ccc(predictions[:, 1], arousal.double().numpy())
    )
    assert out.classification_loss.item() == pytest.approx(expected_ce, abs=1e-5)
    assert out.regression_loss.item() == pytest.approx(expected_reg, abs=1e-5)
    assert out.loss.item() == pytest.approx(expected_ce + 0.7 * expected_reg, abs=1e-5)


def test_class_weights_and_label_smoothing():
    inputs = tiny_inputs("wav2vec2", batch=4)
    labels = torch.tensor([0, 3, 1, 1])
    weights = [1.0, 2.0, 0.5, 4.0]
    plain, weighted, smoothed = (
        tiny_model("wav2vec2"),
        tiny_model("wav2vec2", class_weights=weights),
        tiny_model("wav2vec2", label_smoothing=0.2),
    )
    with torch.no_grad():
        out = plain(**inputs, labels=labels)
        out_weighted = weighted(**inputs, labels=labels)
        out_smoothed = smoothed(**inputs, labels=labels)
    torch.testing.assert_close(out.logits, out_weighted.logits)  # same seed, same weights
    log_probs = torch.log_softmax(out.logits.double(), dim=-1)
    nll = -log_probs[torch.arange(4), labels]
    w = torch.tensor(weights, dtype=torch.float64)[labels]
    expected_weighted = (w * nll).sum() / w.sum()
    expected_smoothed = (0.8 * nll + 0.2 * -log_probs.mean(dim=-1)).mean()
    assert out_weighted.loss.item() == pytest.approx(expected_weighted.item(), abs=1e-5)
    assert out_smoothed.loss.item() == pytest.approx(expected_smoothed.item(), abs=1e-5)
    assert not math.isclose(out_weighted.loss.item(), out.loss.item(), abs_tol=1e-4)
    assert not math.isclose(out_smoothed.loss.item(), out.loss.item(), abs_tol=1e-4)


def test_layerdrop_is_switched_off_for_the_weighted_layer_sum():
    encoder_config = tiny_encoder_config("wav2vec2")
    encoder_config.layerdrop = 0.5
    assert EmotionConfig(encoder_config=encoder_config).encoder_config.layerdrop == 0.0
    encoder_config.layerdrop = 0.5
    assert (
        EmotionConfig(encoder_config=encoder_config, use_weighted_layer_sum=False).encoder_config.layerdrop
        == 0.5
    )


@pytest.mark.parametrize("model_type", ["wav2vec2", "whisper"])
def test_training_step_reaches_every_head_parameter(model_type):
    model = tiny_model(model_type).train()
    out = model(
        **tiny_inputs(model_type, batch=3),
        labels=torch.tensor([0, 1, 2]),
        valence=torch.tensor([0.1, 0.5, -0.2]),
        arousal=torch.tensor([0.3, -0.4, 0.0]),
    )
    out.loss.backward()
    for name in ("layer_weights", "projector.weight", "classifier.weight", "regressor.weight"):
        assert model.get_parameter(name).grad is not None, name


# ---------------------------------------------------------------------------- freezing and optimiser groups


@pytest.mark.parametrize("model_type", ["wav2vec2", "whisper"])
def test_freeze_functions(model_type):
    model = tiny_model(model_type)

    def frozen() -> set[str]:
        return {name for name, param in model.named_parameters() if not param.requires_grad}

    front_end = (
        {n for n, _ in model.named_parameters() if n.startswith(("encoder.conv1.", "encoder.conv2."))}
        if model_type == "whisper"
        else {n for n, _ in model.named_parameters() if n.startswith("encoder.feature_extractor.")}
    )
    always_frozen = {"encoder.embed_positions.weight"} if model_type == "whisper" else set()
    encoder = {n for n, _ in model.named_parameters() if n.startswith("encoder.")}
    assert front_end and frozen() == always_frozen

    model.freeze_feature_encoder()
    assert frozen() == front_end | always_frozen
    model.freeze_base_model()
    assert frozen() == encoder
    model.unfreeze_base_model()
    assert frozen() == always_frozen


@pytest.mark.parametrize("model_type", ["wav2vec2", "whisper"])
def test_parameter_groups_cover_every_trainable_parameter_once(model_type):
    model = tiny_model(model_type)
    model.freeze_feature_encoder()
    groups = model.parameter_groups(backbone_lr=1e-5, head_lr=1e-3, weight_decay=0.01)
    grouped = [id(p) for group in groups for p in group["params"]]
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert len(grouped) == len(set(grouped)) and set(grouped) == trainable
    names = {id(p): n for n, p in model.named_parameters()}
    for group in groups:
        is_backbone = group["name"].startswith("backbone")
        assert group["lr"] == (1e-5 if is_backbone else 1e-3)
        for param in group["params"]:
            assert names[id(param)].startswith("encoder.") == is_backbone
            assert group["weight_decay"] == (0.01 if param.ndim >= 2 else 0.0)
    assert any(p is model.layer_weights for g in groups if g["name"] == "head_no_decay" for p in g["params"])
    torch.optim.AdamW(groups)  # accepted as is

    model.freeze_base_model()
    head_only = model.parameter_groups(backbone_lr=1e-5, head_lr=1e-3)
    assert {g["name"] for g in head_only} == {"head_decay", "head_no_decay"}


# ---------------------------------------------------------------------------- saving and loading


def _assert_same_state_dict(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].dtype == b[key].dtype and a[key].shape == b[key].shape, key
        assert a[key].cpu().numpy().tobytes() == b[key].cpu().numpy().tobytes(), key


@pytest.mark.parametrize("model_type", ["wav2vec2", "whisper"])
def test_save_pretrained_round_trip(tmp_path, model_type):
    model = tiny_model(
        model_type,
        class_weights=[1.0, 1.0, 2.0, 2.0],
        class_valence_arousal=CLASS_VALENCE_AROUSAL,
        valence_arousal_class_weight=[0.5, 0.25],
    )
    model.save_pretrained(tmp_path)
    assert {"config.json", "model.safetensors", "configuration_emotion.py", "modeling_emotion.py"} <= set(
        os.listdir(tmp_path)
    )
    auto_map = json.loads((tmp_path / "config.json").read_text())["auto_map"]
    assert auto_map == {
        "AutoConfig": "configuration_emotion.EmotionConfig",
        "AutoModelForAudioClassification": "modeling_emotion.EmotionModel",
    }

    reloaded = EmotionModel.from_pretrained(tmp_path).eval()
    via_auto = AutoModelForAudioClassification.from_pretrained(tmp_path).eval()
    assert type(via_auto) is EmotionModel  # local registration, no remote code needed
    _assert_same_state_dict(model.state_dict(), reloaded.state_dict())
    _assert_same_state_dict(model.state_dict(), via_auto.state_dict())
    # loading records the dtype and the folder; everything else is as saved
    expected_config, reloaded_config = model.config.to_dict(), reloaded.config.to_dict()
    for config_dict in (
        expected_config,
        reloaded_config,
        expected_config["encoder_config"],
        reloaded_config["encoder_config"],
    ):
        config_dict.pop("_name_or_path"), config_dict.pop("dtype")
    assert reloaded_config == expected_config
    inputs = tiny_inputs(model_type)
    with torch.no_grad():
        expected, actual = model(**inputs), reloaded(**inputs)
    assert torch.equal(expected.logits, actual.logits)
    assert torch.equal(expected.valence_arousal, actual.valence_arousal)


def test_from_encoder_pretrained_wav2vec2(tmp_path):
    torch.manual_seed(0)
    encoder = Wav2Vec2Model(tiny_encoder_config("wav2vec2"))
    encoder.save_pretrained(tmp_path)
    model = EmotionModel.from_encoder_pretrained(str(tmp_path), id2label=LABELS, classifier_proj_size=8)
    assert model.config.encoder_config.model_type == "wav2vec2" and model.config.classifier_proj_size == 8
    _assert_same_state_dict(encoder.state_dict(), model.encoder.state_dict())


@pytest.mark.parametrize("whisper_class", [WhisperModel, WhisperForConditionalGeneration])
def test_from_encoder_pretrained_whisper(tmp_path, whisper_class):
    torch.manual_seed(0)
    whisper = whisper_class(tiny_encoder_config("whisper"))
    with torch.no_grad():  # make the weights differ from any fresh initialisation
        for param in whisper.parameters():
            param.add_(torch.randn_like(param))
    whisper.save_pretrained(tmp_path)
    model = EmotionModel.from_encoder_pretrained(tmp_path, id2label=LABELS)
    assert model.is_whisper and model.main_input_name == "input_features"
    saved_encoder = (whisper.model if whisper_class is WhisperForConditionalGeneration else whisper).encoder
    _assert_same_state_dict(saved_encoder.state_dict(), model.encoder.state_dict())


def test_trust_remote_code_loads_the_copied_code_without_hf_emotion(tmp_path):
    model_dir = tmp_path / "model"
    model = tiny_model("whisper")
    model.save_pretrained(model_dir)
    inputs = tiny_inputs("whisper")
    torch.save(inputs["input_features"], tmp_path / "features.pt")
    with torch.no_grad():
        torch.save(model(**inputs).logits, tmp_path / "expected.pt")

    script = textwrap.dedent(
        """
        import sys, torch
        from transformers import AutoModelForAudioClassification
        model = AutoModelForAudioClassification.from_pretrained("model", trust_remote_code=True).eval()
        assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
        assert type(model.config).__module__.startswith("transformers_modules"), type(model.config).__module__
        assert not any(name == "hf_emotion" or name.startswith("hf_emotion.") for name in sys.modules)
        with torch.no_grad():
            logits = model(input_features=torch.load("features.pt")).logits
        assert torch.equal(logits, torch.load("expected.pt")), (logits, torch.load("expected.pt"))
        print("OK", type(model).__module__)
        """
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_MODULES_CACHE": str(tmp_path / "modules")}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("OK transformers_modules")


@pytest.mark.parametrize("model_type", ["wav2vec2", "whisper"])
def test_activation_checkpointing_gives_the_same_gradients(model_type):
    inputs = tiny_inputs(model_type, batch=2)
    gradients = []
    for checkpointing in (False, True):
        model = tiny_model(model_type).train()  # checkpointing only acts in training mode
        if checkpointing:
            model.activation_checkpointing_enable()
            assert all(
                layer.gradient_checkpointing for layer in model.encoder.modules() if hasattr(layer, "fc1")
            )
        # same dropout (torch) and SpecAugment (numpy) masks in both runs; checkpointing replays the torch RNG
        torch.manual_seed(5)
        np.random.seed(5)
        model(**inputs, labels=torch.tensor([1, 2])).loss.backward()
        gradients.append({n: p.grad for n, p in model.named_parameters() if p.grad is not None})
    assert gradients[0].keys() == gradients[1].keys()
    for name in gradients[0]:
        torch.testing.assert_close(gradients[0][name], gradients[1][name], msg=name)
