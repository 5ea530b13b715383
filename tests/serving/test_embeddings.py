"""``EmotionRecognizer.embed`` and ``hf-emotion predict --embeddings``: the vector the heads read, per clip and
per frame, for Whisper and wav2vec2 (tiny random models, synthetic audio)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hf_emotion.cli import main as cli_main
from hf_emotion.serving.recognizer import EmotionRecognizer
from tests.serving.test_inference import make_emotion_model_dir
from tests.synth import emotion_signal, write_audio

SECONDS = [1.0, 2.0, 0.6]


@pytest.fixture(scope="module", params=["whisper", "wav2vec2"])
def model_dir(request, tmp_path_factory):
    encoder_dir = request.getfixturevalue(f"tiny_{request.param}_dir")
    return make_emotion_model_dir(encoder_dir, tmp_path_factory.mktemp(f"embed-{request.param}"))


@pytest.fixture(scope="module")
def recognizer(model_dir) -> EmotionRecognizer:
    return EmotionRecognizer.from_pretrained(model_dir)


def clips() -> list[np.ndarray]:
    return [emotion_signal("happy", seconds, 16_000, seed=i) for i, seconds in enumerate(SECONDS)]


def test_embed_gives_one_vector_per_clip_and_one_per_frame(recognizer):
    width = recognizer.scorer.config.classifier_proj_size
    one = recognizer.embed(clips()[0], sampling_rate=16_000)
    assert one.shape == (width,) and one.dtype == np.float32
    vectors, frames = recognizer.embed(clips(), frames=True, sampling_rate=16_000)
    assert vectors.shape == (len(SECONDS), width)
    np.testing.assert_allclose(vectors[0], one, atol=1e-5)
    for seconds, rows in zip(SECONDS, frames, strict=True):
        assert rows.shape[1] == width
        assert abs(rows.shape[0] - 50 * seconds) <= 2  # both encoders give 50 frames a second
    # The clip's vector is its own frames pooled (batched with longer clips, padding left out).
    np.testing.assert_allclose(vectors[2], frames[2].mean(axis=0), atol=1e-4)


def test_the_vector_is_what_the_heads_read(recognizer):
    model, scorer = recognizer.scorer.model, recognizer.scorer
    vector = recognizer.embed(clips()[1], sampling_rate=16_000)
    with torch.inference_mode():
        logits = model(**scorer._tensors(scorer.features([clips()[1]]))).logits[0]
        from_vector = model.classifier(torch.from_numpy(vector))
    np.testing.assert_allclose(from_vector.numpy(), logits.numpy(), atol=1e-4)


def test_an_ensemble_has_no_embedding(model_dir):
    ensemble = EmotionRecognizer.from_pretrained([model_dir, model_dir])
    with pytest.raises(ValueError, match="one model"):
        ensemble.embed(clips()[0], sampling_rate=16_000)


def test_predict_writes_the_embeddings_of_every_file(model_dir, tmp_path, recognizer):
    files = [str(write_audio(tmp_path / f"clip{i}.wav", clip, 16_000)) for i, clip in enumerate(clips())]
    out = tmp_path / "out" / "embeddings.npz"
    argv = ["predict", *files, "--model", str(model_dir), "--output", str(tmp_path / "p.jsonl")]
    assert cli_main([*argv, "--embeddings", str(out), "--embedding_frames"]) == 0
    saved = np.load(out)
    assert saved["files"].tolist() == files
    expected, frames = recognizer.embed(files, frames=True)
    np.testing.assert_allclose(saved["embeddings"], expected, atol=1e-5)
    for i, rows in enumerate(frames):
        np.testing.assert_allclose(saved[f"frames_{i}"], rows, atol=1e-5)
    assert cli_main([*argv, "--embedding_frames"]) == 2  # frames of what? --embeddings is missing
