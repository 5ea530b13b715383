"""A declared sampling rate that the voice contradicts is warned about (issue 28, item 2), by the check itself,
by EmotionRecognizer (torch and ONNX scorers share its input path) and by the pipeline saved with a model;
the input is still scored as declared, and rates below 4 kHz are still refused."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pytest
from transformers import pipeline

from hf_emotion.data.audio import AudioDecodeError
from hf_emotion.model.rate_check import rate_mismatch
from hf_emotion.serving.recognizer import EmotionRecognizer
from tests.serving.test_inference import make_emotion_model_dir
from tests.synth import voiced_signal

ONNX_EXPORT = Path(__file__).resolve().parents[1] / "fixtures" / "models_v0.1.0" / "onnx"


@pytest.mark.parametrize("rate", [8_000, 16_000, 22_050, 44_100, 48_000])
def test_a_voice_declared_at_its_own_rate_is_not_questioned(rate):
    assert rate_mismatch(voiced_signal(1.5, rate, pitch=150.0), rate) is None


@pytest.mark.parametrize(
    "made, declared, direction, named",
    [
        (48_000, 16_000, "low", "44100 or 48000"),
        (44_100, 16_000, "low", "44100 or 48000"),
        (8_000, 48_000, "high", "8000"),
    ],
)
def test_a_voice_declared_at_a_wrong_rate_is_named_with_its_likely_rate(made, declared, direction, named):
    message = rate_mismatch(voiced_signal(1.5, made, pitch=150.0), declared, "clip.npy")
    assert message.startswith(f"sampling_rate={declared} for clip.npy looks wrong")
    assert f"too {direction}" in message and message.endswith(f"was it recorded at {named} Hz?")
    assert "\n" not in message


@pytest.mark.parametrize("rate", [16_000, 48_000])
def test_silence_noise_and_short_clicks_get_no_verdict(rate):
    rng = np.random.default_rng(0)
    assert rate_mismatch(np.zeros(rate, np.float32), rate) is None
    assert rate_mismatch(0.1 * rng.standard_normal(rate).astype(np.float32), rate) is None
    assert rate_mismatch(voiced_signal(0.05, rate), rate) is None


def test_the_check_costs_a_few_milliseconds_even_on_a_long_recording():
    long = np.tile(voiced_signal(2.0, 48_000), 300)  # 10 minutes at 48 kHz: only the first 30 s are read
    rate_mismatch(long, 48_000)
    began = time.perf_counter()
    rate_mismatch(long, 48_000)
    assert time.perf_counter() - began < 0.5  # a few ms on an idle core; loose for shared CI machines


@pytest.fixture(scope="module")
def model_dir(tiny_wav2vec2_dir, tmp_path_factory) -> Path:
    return make_emotion_model_dir(tiny_wav2vec2_dir, tmp_path_factory.mktemp("rate-check-model"))


def rate_warnings(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and "looks wrong" in r.getMessage()
    ]


def test_recognizer_warns_once_per_array_declared_at_the_wrong_rate_and_still_scores_it(model_dir, caplog):
    recognizer = EmotionRecognizer.from_pretrained(model_dir)
    voice = voiced_signal(1.5, 48_000)
    with caplog.at_level(logging.WARNING):
        assert recognizer(voice, sampling_rate=48_000).label is not None
    assert rate_warnings(caplog) == []
    with caplog.at_level(logging.WARNING):
        results = recognizer([voice, {"array": voice, "sampling_rate": 48_000}], sampling_rate=16_000)
    assert [r.label is not None for r in results] == [True, True]
    (message,) = rate_warnings(caplog)
    assert message.startswith("sampling_rate=16000 for <array> looks wrong")
    assert message.endswith("was it recorded at 44100 or 48000 Hz?")


def test_an_onnx_scorer_warns_through_the_same_inputs(caplog):
    pytest.importorskip("onnxruntime")
    recognizer = EmotionRecognizer.from_pretrained(ONNX_EXPORT)
    assert type(recognizer.scorer).__name__ == "OnnxScorer"
    with caplog.at_level(logging.WARNING):
        recognizer(voiced_signal(1.5, 16_000), sampling_rate=16_000)
        recognizer(voiced_signal(1.5, 44_100), sampling_rate=16_000)
    (message,) = rate_warnings(caplog)
    assert message.startswith("sampling_rate=16000 for <array> looks wrong")


def test_pipeline_warns_about_a_wrong_rate_as_the_recognizer_does(model_dir, caplog):
    classifier = pipeline(model=str(model_dir), trust_remote_code=True)
    voice = voiced_signal(1.5, 16_000)
    with caplog.at_level(logging.WARNING):
        classifier(voice, sampling_rate=16_000)
        classifier(voice)  # no rate: read at the model's 16 kHz, which is right
    assert rate_warnings(caplog) == []
    high = voiced_signal(1.5, 48_000)
    with caplog.at_level(logging.WARNING):
        assert classifier({"array": high, "sampling_rate": 16_000}, details=True)["label"] is not None
        classifier(high)  # no rate given: 48-kHz audio read at the model's 16 kHz
    first, second = rate_warnings(caplog)
    assert first.startswith("sampling_rate=16000 for <array> looks wrong")
    assert second.startswith("sampling_rate=16000 for <array> (no sampling_rate given")
    assert first.endswith("was it recorded at 44100 or 48000 Hz?") and second.endswith("48000 Hz?")


@pytest.mark.parametrize("rate", [16, 3999])
def test_a_rate_below_4000_hz_is_still_refused_before_the_voice_is_judged(model_dir, rate, caplog):
    recognizer = EmotionRecognizer.from_pretrained(model_dir)
    with caplog.at_level(logging.WARNING), pytest.raises(AudioDecodeError, match="below 4000 Hz"):
        recognizer(voiced_signal(1.0, 16_000), sampling_rate=rate)
    assert rate_warnings(caplog) == []
