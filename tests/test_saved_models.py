"""Model folders written before the package moved into folders by job still load and score the same."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from hf_emotion import EmotionRecognizer
from hf_emotion.data.labels import EMOTIONS
from tests.synth import emotion_signal

OLD = Path(__file__).resolve().parent / "fixtures" / "models_v0.1.0"
EXPECTED = json.loads((OLD / "expected.json").read_text())
CLIPS = {emotion: emotion_signal(emotion, 1.5, 16_000, seed=i) for i, emotion in enumerate(EMOTIONS[:3])}


def assert_same_prediction(got: dict, expected: dict) -> None:
    assert got["label"] == expected["label"]
    for name, probability in expected["probabilities"].items():
        assert got["probabilities"][name] == pytest.approx(probability, abs=1e-5)
    for key in ("valence", "arousal"):
        assert got[key] == pytest.approx(expected[key], abs=1e-5)


@pytest.mark.parametrize("kind", ["torch", "onnx"])
def test_a_model_folder_of_the_flat_layout_scores_as_it_did(kind, tmp_path):
    folder = shutil.copytree(OLD / kind, tmp_path / kind)  # loading must not need to write into it
    recognizer = EmotionRecognizer.from_pretrained(folder)
    for emotion, clip in CLIPS.items():
        assert_same_prediction(recognizer(clip, sampling_rate=16_000).to_dict(), EXPECTED[kind][emotion])


def test_the_old_speaker_adaptive_head_still_judges_a_speakers_clips():
    clips = [emotion_signal(e, 1.0, 16_000, seed=10 + i) for i, e in enumerate(EMOTIONS)]
    recognizer = EmotionRecognizer.from_pretrained(OLD / "torch")
    predictions = recognizer(clips, sampling_rate=16_000, speaker=["s"] * len(clips))
    assert len(predictions) == len(EXPECTED["torch_speaker_adaptive"])
    for got, expected in zip(predictions, EXPECTED["torch_speaker_adaptive"], strict=True):
        assert got.mode == "speaker_adaptive"
        assert_same_prediction(got.to_dict(), expected)


def test_the_old_folder_loads_through_the_pipeline_with_its_own_remote_code():
    from transformers import pipeline

    classify = pipeline("audio-classification", model=str(OLD / "torch"), trust_remote_code=True)
    scores = {
        row["label"]: row["score"] for row in classify(CLIPS["neutral"], sampling_rate=16_000, top_k=None)
    }
    expected = EXPECTED["torch"]["neutral"]["probabilities"]
    np.testing.assert_allclose([scores[n] for n in expected], list(expected.values()), atol=1e-4)
