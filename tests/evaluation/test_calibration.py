"""Temperature scaling and the calibration numbers: the fit recovers a known temperature, lowers a tiny
model's expected calibration error, and never changes a label."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hf_emotion.data.labels import EMOTIONS
from hf_emotion.evaluation.calibration import (
    calibration_metrics,
    confident_error_share,
    expected_calibration_error,
    fit_temperature,
    softmax_with_temperature,
)
from hf_emotion.serving.scorers import TorchScorer
from tests.serving.test_inference import make_emotion_model_dir
from tests.synth import emotion_signal


def test_fit_recovers_the_temperature_that_made_the_labels():
    rng = np.random.default_rng(0)
    logits = 3.0 * rng.standard_normal((4000, 5))
    truth = softmax_with_temperature(logits, 2.5)  # labels drawn as a model at T = 2.5 would be right
    labels = np.array([rng.choice(5, p=row) for row in truth])
    assert fit_temperature(logits, labels) == pytest.approx(2.5, rel=0.08)


def test_an_underconfident_model_gets_a_temperature_below_one():
    rng = np.random.default_rng(1)
    logits = 0.3 * rng.standard_normal((3000, 4))
    truth = softmax_with_temperature(logits, 0.25)
    labels = np.array([rng.choice(4, p=row) for row in truth])
    assert fit_temperature(logits, labels) < 0.5


def test_expected_calibration_error_of_known_cases():
    sure_and_right = np.array([[0.95, 0.05], [0.05, 0.95]])
    assert expected_calibration_error(sure_and_right, [0, 1]) == pytest.approx(0.05)
    sure_and_wrong = np.array([[0.95, 0.05], [0.05, 0.95]])
    assert expected_calibration_error(sure_and_wrong, [1, 0]) == pytest.approx(0.95)
    assert math.isnan(expected_calibration_error(np.zeros((0, 2)), []))


def test_confident_error_share_counts_only_wrong_answers():
    probabilities = np.array([[0.99, 0.01], [0.6, 0.4], [0.95, 0.05], [0.2, 0.8]])
    # wrong: clips 0 (0.99) and 1 (0.6); clip 2 is right and sure, clip 3 right
    assert confident_error_share(probabilities, [1, 1, 0, 1]) == 0.5
    assert math.isnan(confident_error_share(probabilities[2:], [0, 1]))


def test_temperature_changes_no_label():
    logits = np.random.default_rng(2).standard_normal((50, 6)) * 4
    for temperature in (0.3, 1.0, 7.0):
        assert (softmax_with_temperature(logits, temperature).argmax(-1) == logits.argmax(-1)).all()


def test_fitted_temperature_lowers_a_tiny_models_calibration_error(tiny_wav2vec2_dir, tmp_path):
    """A random model with spread heads is sure of labels that have nothing to do with the audio: the temperature
    fitted on synthetic validation clips brings its ECE down, there and on other clips of the same kind."""
    labels = list(EMOTIONS[:4])
    scorer = TorchScorer.from_pretrained(make_emotion_model_dir(tiny_wav2vec2_dir, tmp_path, labels=labels))

    def logits_of(seed: int) -> tuple[np.ndarray, np.ndarray]:
        truth = np.arange(24) % len(labels)
        signals = [emotion_signal(labels[k], 1.0, 16_000, seed=seed + i) for i, k in enumerate(truth)]
        probabilities, _ = scorer.score(signals)
        return np.log(np.clip(probabilities, 1e-30, None)), truth  # logits up to a per-clip constant

    validation, validation_labels = logits_of(0)
    test, test_labels = logits_of(100)
    temperature = fit_temperature(validation, validation_labels)
    assert temperature > 1.0  # it was overconfident
    fitted = calibration_metrics(validation, validation_labels, temperature, "validation")
    assert fitted["validation_nll"] < fitted["validation_nll_before_temperature"]
    for logits, truth in ((validation, validation_labels), (test, test_labels)):
        metrics = calibration_metrics(logits, truth, temperature, "eval")
        assert metrics["eval_ece"] < metrics["eval_ece_before_temperature"]
        assert set(metrics) == {
            f"eval_{name}{suffix}"
            for name in ("ece", "wrong_over_0.9", "nll")
            for suffix in ("", "_before_temperature")
        }
