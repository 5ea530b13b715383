"""Every way to run a model answers alike: torch, a fresh ONNX export, an ensemble of them and the saved
pipeline give the same temperature-scaled probabilities, and torch and ONNX the same embeddings."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")

from transformers import pipeline  # noqa: E402

from hf_emotion.model.configuration_emotion import EmotionConfig  # noqa: E402
from hf_emotion.serving.export import export_onnx  # noqa: E402
from hf_emotion.serving.mean_scorer import MeanScorer  # noqa: E402
from hf_emotion.serving.onnx_scorer import OnnxScorer  # noqa: E402
from hf_emotion.serving.recognizer import EmotionRecognizer  # noqa: E402
from hf_emotion.serving.scorers import TorchScorer  # noqa: E402
from tests.serving.test_inference import make_emotion_model_dir  # noqa: E402
from tests.synth import emotion_signal  # noqa: E402

TOLERANCE = 1e-4
TEMPERATURE = 2.5
CLIPS = [emotion_signal(name, seconds, 16_000, seed=i) for i, (name, seconds) in enumerate(
    [("angry", 1.3), ("sad", 0.77), ("happy", 2.1)]
)]  # fmt: skip


@pytest.fixture(scope="module", params=["whisper", "wav2vec2"])
def folders(request, tmp_path_factory):
    """(torch model folder with temperature 2.5, its fresh ONNX export)."""
    tmp = tmp_path_factory.mktemp(f"parity-{request.param}")
    model_dir = make_emotion_model_dir(request.getfixturevalue(f"tiny_{request.param}_dir"), tmp / "model")
    config = EmotionConfig.from_pretrained(model_dir)
    config.temperature = TEMPERATURE
    config.save_pretrained(model_dir)
    return model_dir, export_onnx(model_dir, tmp / "onnx")


def test_a_model_saved_without_a_temperature_loads_with_none(tmp_path, tiny_wav2vec2_dir):
    model_dir = make_emotion_model_dir(tiny_wav2vec2_dir, tmp_path)
    config = json.loads((model_dir / "config.json").read_text())
    config.pop("temperature", None)
    (model_dir / "config.json").write_text(json.dumps(config))
    assert EmotionConfig.from_pretrained(model_dir).temperature == 1.0
    with pytest.raises(ValueError, match="temperature"):
        EmotionConfig(encoder_config=EmotionConfig.from_pretrained(model_dir).encoder_config, temperature=0.0)


def test_every_scorer_applies_the_models_temperature(folders):
    model_dir, onnx_dir = folders
    torch_scorer, onnx_scorer = TorchScorer.from_pretrained(model_dir), OnnxScorer(onnx_dir)
    assert torch_scorer.temperature == onnx_scorer.temperature == TEMPERATURE
    calibrated, _ = torch_scorer.score(CLIPS)

    # What the temperature does: softmax(logits / T) of the model's own logits.
    features = torch_scorer.features(CLIPS[:1])
    with torch.inference_mode():
        logits = torch_scorer.model(**torch_scorer._tensors(features)).logits.double().numpy()
    scaled = np.exp(logits / TEMPERATURE - (logits / TEMPERATURE).max())
    np.testing.assert_allclose(calibrated[0], (scaled / scaled.sum())[0], atol=TOLERANCE)
    untempered, _ = torch_scorer.run(torch_scorer.features(CLIPS[:1]))
    assert np.abs(untempered[0] - calibrated[0]).max() > 0.01  # the test would see a missing temperature

    np.testing.assert_allclose(onnx_scorer.score(CLIPS)[0], calibrated, atol=TOLERANCE)
    ensemble, _ = MeanScorer([torch_scorer, onnx_scorer]).score(CLIPS)
    np.testing.assert_allclose(ensemble, calibrated, atol=TOLERANCE)

    classifier = pipeline(model=str(model_dir), trust_remote_code=True)
    for clip, expected in zip(CLIPS, calibrated, strict=True):
        scores = {row["label"]: row["score"] for row in classifier(clip, sampling_rate=16_000)}
        np.testing.assert_allclose([scores[label] for label in torch_scorer.labels], expected, atol=TOLERANCE)


def test_torch_and_a_fresh_onnx_export_give_the_same_embeddings(folders):
    model_dir, onnx_dir = folders
    torch_vectors, torch_frames = EmotionRecognizer.from_pretrained(model_dir).embed(
        CLIPS, frames=True, sampling_rate=16_000
    )
    onnx_vectors, onnx_frames = EmotionRecognizer.from_pretrained(onnx_dir).embed(
        CLIPS, frames=True, sampling_rate=16_000
    )
    np.testing.assert_allclose(onnx_vectors, torch_vectors, atol=TOLERANCE)
    for onnx_rows, torch_rows in zip(onnx_frames, torch_frames, strict=True):
        assert onnx_rows.shape == torch_rows.shape
        np.testing.assert_allclose(onnx_rows, torch_rows, atol=TOLERANCE)
