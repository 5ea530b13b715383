"""Shared fixtures: synthetic corpora on disk and tiny random encoders saved as folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.synth import make_crema_d_tree, make_ravdess_tree

# Keep the suite within 2 cores and quiet.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("WANDB_DISABLED", "true")

REAL_DATA_ENV = "HF_EMOTION_DATA"


def real_data_dir(name: str) -> Path:
    """A real corpus folder under $HF_EMOTION_DATA, or skip the test."""
    root = os.environ.get(REAL_DATA_ENV)
    if not root or not (Path(root) / name).is_dir():
        pytest.skip(f"set {REAL_DATA_ENV} to a folder holding {name}/ to run the real-data tier")
    return Path(root) / name


@pytest.fixture(scope="session")
def ravdess_dir(tmp_path_factory) -> Path:
    """8 actors × 15 clips of synthetic RAVDESS speech (16 kHz WAV)."""
    return make_ravdess_tree(tmp_path_factory.mktemp("ravdess"))


@pytest.fixture(scope="session")
def crema_d_dir(tmp_path_factory) -> Path:
    """6 actors × 22 clips of synthetic CREMA-D with its two CSV tables."""
    return make_crema_d_tree(tmp_path_factory.mktemp("crema_d"))


def tiny_wav2vec2_config(**overrides):
    from transformers import Wav2Vec2Config

    values = dict(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        # Total stride 320, as in real wav2vec2 (50 frames a second): a shorter stride makes
        # attention over seconds of audio the slowest part of the whole suite.
        conv_dim=(16, 16, 16),
        conv_stride=(5, 8, 8),
        conv_kernel=(10, 8, 8),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
        feat_extract_norm="layer",
        do_stable_layer_norm=True,
        mask_time_prob=0.0,
        vocab_size=12,
    )
    values.update(overrides)
    return Wav2Vec2Config(**values)


def tiny_whisper_config(**overrides):
    from transformers import WhisperConfig

    values = dict(
        d_model=32,
        encoder_layers=2,
        encoder_attention_heads=2,
        decoder_layers=1,
        decoder_attention_heads=2,
        encoder_ffn_dim=37,
        decoder_ffn_dim=37,
        num_mel_bins=80,
        max_source_positions=1500,
        max_target_positions=32,
        vocab_size=64,
        pad_token_id=1,
        bos_token_id=2,
        eos_token_id=3,
        decoder_start_token_id=2,
    )
    values.update(overrides)
    return WhisperConfig(**values)


@pytest.fixture(scope="session")
def tiny_wav2vec2_dir(tmp_path_factory) -> Path:
    """A random-initialised tiny wav2vec2 encoder and its feature extractor, saved like a Hub model."""
    import torch
    from transformers import Wav2Vec2FeatureExtractor, Wav2Vec2Model

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny-wav2vec2")
    Wav2Vec2Model(tiny_wav2vec2_config()).save_pretrained(path)
    Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True, return_attention_mask=True
    ).save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_whisper_dir(tmp_path_factory) -> Path:
    """A random-initialised tiny Whisper model and its feature extractor."""
    import torch
    from transformers import WhisperFeatureExtractor, WhisperModel

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny-whisper")
    WhisperModel(tiny_whisper_config()).save_pretrained(path)
    WhisperFeatureExtractor(feature_size=80).save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def adapted_model(tiny_wav2vec2_dir, ravdess_dir, tmp_path_factory):
    """A tiny random model folder to which `hf-emotion adapt` added a head (synthetic RAVDESS actors 1-6)."""
    from hf_emotion.cli import main
    from hf_emotion.data.labels import EMOTIONS
    from hf_emotion.data.splits import Split
    from tests.serving.test_inference import make_emotion_model_dir

    folder = make_emotion_model_dir(
        tiny_wav2vec2_dir, tmp_path_factory.mktemp("adapt-model"), labels=list(EMOTIONS)
    )
    split_file = folder / "splits.json"
    Split(
        "speaker_folds",
        train=[f"ravdess-0{i}" for i in range(1, 5)],
        validation=["ravdess-05", "ravdess-06"],
        test=["ravdess-07", "ravdess-08"],
    ).to_json(split_file)
    code = main(
        ["adapt", "--model", str(folder), "--dataset", "ravdess", "--data_dir", str(ravdess_dir),
         "--split_file", str(split_file), "--max_seconds", "1"]
    )  # fmt: skip
    assert code == 0
    return folder
