"""Speaker-adaptive mode on an ONNX export: the graph gives the pooled features the head judges."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from hf_emotion.data.labels import EMOTIONS  # noqa: E402
from hf_emotion.model.files import SPEAKER_ADAPTIVE_HEAD_FILE  # noqa: E402
from hf_emotion.serving.export import export_onnx  # noqa: E402
from hf_emotion.serving.loading import load_scorer  # noqa: E402
from hf_emotion.serving.recognizer import EmotionRecognizer  # noqa: E402
from tests.serving.test_inference import make_emotion_model_dir  # noqa: E402
from tests.synth import emotion_signal  # noqa: E402

OLD_EXPORT = Path(__file__).resolve().parents[1] / "fixtures" / "models_v0.1.0" / "onnx"
OLD_HEAD = OLD_EXPORT.parent / "torch" / SPEAKER_ADAPTIVE_HEAD_FILE
# Odd lengths (odd numbers of Whisper mel frames and of wav2vec2 samples), mixed in one batch.
CLIP_SECONDS = [0.37, 1.0313, 2.5101, 0.8, 1.77]


@pytest.mark.parametrize("backbone", ["whisper", "wav2vec2"])
def test_exported_graph_pools_hidden_states_as_torch_does(
    backbone, tiny_whisper_dir, tiny_wav2vec2_dir, tmp_path
):
    encoder = tiny_whisper_dir if backbone == "whisper" else tiny_wav2vec2_dir
    folder = make_emotion_model_dir(encoder, tmp_path / "model", seed=4)
    exported = export_onnx(folder, tmp_path / "onnx")
    signals = [emotion_signal(EMOTIONS[i % 8], s, seed=i) for i, s in enumerate(CLIP_SECONDS)]
    expected = load_scorer(folder).pooled_features(signals, batch_size=2)
    got = load_scorer(exported).pooled_features(signals, batch_size=2)
    assert got.shape == expected.shape and got.ndim == 3
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_an_export_of_a_model_with_a_head_judges_speakers_as_the_torch_model_does(adapted_model, tmp_path):
    exported = export_onnx(adapted_model, tmp_path / "onnx")
    assert (exported / SPEAKER_ADAPTIVE_HEAD_FILE).is_file()
    clips = [emotion_signal(e, 1.0, seed=20 + i) for i, e in enumerate(EMOTIONS)]
    torch_results = EmotionRecognizer.from_pretrained(adapted_model)(
        clips, sampling_rate=16_000, speaker="me"
    )
    onnx_results = EmotionRecognizer.from_pretrained(exported)(clips, sampling_rate=16_000, speaker="me")
    for got, expected in zip(onnx_results, torch_results, strict=True):
        assert got.mode == "speaker_adaptive" and got.label == expected.label
        assert got.probabilities == pytest.approx(expected.probabilities, abs=1e-4)


def test_an_old_export_refuses_speaker_mode_saying_to_export_again(tmp_path):
    folder = shutil.copytree(OLD_EXPORT, tmp_path / "onnx")
    shutil.copyfile(OLD_HEAD, folder / SPEAKER_ADAPTIVE_HEAD_FILE)
    recognizer = EmotionRecognizer.from_pretrained(folder)
    clips = [emotion_signal(e, 1.0, seed=i) for i, e in enumerate(EMOTIONS[:4])]
    assert recognizer(clips[0], sampling_rate=16_000).mode == "clip"
    with pytest.raises(ValueError, match="no pooled_hidden_states output.*export the model folder again"):
        recognizer(clips, sampling_rate=16_000, speaker="me")
