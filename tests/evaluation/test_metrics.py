"""hf_emotion.evaluation.metrics: UA/WA/F1, CCC, fold summaries and per-speaker normalisation."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from hf_emotion.evaluation.metrics import (
    ccc,
    classification_metrics,
    regression_metrics,
    summarize_folds,
)
from hf_emotion.evaluation.speaker_normalisation import speaker_normalized_probe, standardize_per_speaker


def test_ccc_worked_by_hand():
    # x = [1, 2, 3], y = [2, 4, 6]: means 2 and 4, var 2/3 and 8/3, cov 4/3
    # CCC = 2 * 4/3 / (2/3 + 8/3 + 4) = (8/3) / (22/3) = 8/22
    assert ccc([1, 2, 3], [2, 4, 6]) == pytest.approx(8 / 22)
    assert ccc([1, 2, 3], [1, 2, 3]) == pytest.approx(1.0)
    assert ccc([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    # negated: means 2 and -2, cov -2/3 → 2 * (-2/3) / (2/3 + 2/3 + 16) = -1/13
    assert ccc([1, 2, 3], [-1, -2, -3]) == pytest.approx(-1 / 13)


def test_ccc_ignores_missing_targets():
    assert ccc([1, 2, 3, 4], [1, 2, np.nan, 4]) == pytest.approx(1.0)


def test_classification_metrics_by_hand():
    y_true = [0, 0, 0, 0, 1, 1]
    y_pred = [0, 0, 0, 0, 0, 1]
    m = classification_metrics(y_true, y_pred, ["a", "b"])
    assert m["wa"] == pytest.approx(5 / 6)
    assert m["ua"] == pytest.approx((1.0 + 0.5) / 2)
    # F1(a) = 2*4/(2*4+1+0) = 8/9; F1(b) = 2*1/(2*1+0+1) = 2/3
    assert m["f1_a"] == pytest.approx(8 / 9) and m["f1_b"] == pytest.approx(2 / 3)
    assert m["macro_f1"] == pytest.approx((8 / 9 + 2 / 3) / 2)


def test_regression_metrics_by_hand():
    pred = np.array([[0.0, 1.0], [1.0, 0.0]])
    target = np.array([[0.0, 1.0], [1.0, 1.0]])
    m = regression_metrics(pred, target)
    assert m["ccc_valence"] == pytest.approx(1.0) and m["mse_arousal"] == pytest.approx(0.5)


def test_fold_summary_gives_mean_and_std():
    summary = summarize_folds([{"ua": 0.5}, {"ua": 0.7}])
    assert summary["ua"]["mean"] == pytest.approx(0.6) and summary["ua"]["std"] == pytest.approx(0.1)


def _voices_over_emotions(rng, class_means, first_speaker: int, n_speakers: int):
    """Each speaker's voice shifts every feature far more than the emotion does."""
    features, labels, speakers = [], [], []
    for s in range(first_speaker, first_speaker + n_speakers):
        voice = rng.normal(scale=8.0, size=(2, 6))
        for label in range(3):
            for _ in range(10):
                features.append(voice + class_means[label] + rng.normal(scale=0.3, size=(2, 6)))
                labels.append(label)
                speakers.append(f"s{s}")
    return np.stack(features), np.array(labels), speakers


@pytest.fixture(scope="module")
def voiced_parts():
    rng = np.random.default_rng(0)
    class_means = rng.normal(size=(3, 2, 6))
    parts = {
        "train": _voices_over_emotions(rng, class_means, 0, 8),
        "validation": _voices_over_emotions(rng, class_means, 8, 3),
        "test": _voices_over_emotions(rng, class_means, 11, 3),
    }
    return (
        {k: v[0] for k, v in parts.items()},
        {k: v[1] for k, v in parts.items()},
        {k: v[2] for k, v in parts.items()},
    )


NAMES = ["neutral", "happy", "sad"]


def test_speaker_normalized_probe_removes_voice_offsets(voiced_parts):
    """Standardising per speaker leaves the emotion; the test speakers' own mean makes that possible."""
    features, labels, speakers = voiced_parts
    metrics, predictions = speaker_normalized_probe(features, labels, speakers, NAMES)
    assert metrics["eval_spkprobe_ua"] > 0.9 and metrics["validation_spkprobe_ua"] > 0.9
    assert predictions.shape == (90,) and metrics["spkprobe_C"] > 0
    assert {"eval_spkprobe_wa", "eval_spkprobe_macro_f1", "eval_spkprobe_f1_sad"} <= set(metrics)
    # The same classifier on the raw features is lost among the voices.
    raw = LogisticRegression(max_iter=2000).fit(features["train"].reshape(240, -1), labels["train"])
    raw_predictions = raw.predict(features["test"].reshape(90, -1))
    raw_ua = classification_metrics(labels["test"], raw_predictions, NAMES)["ua"]
    assert raw_ua < metrics["eval_spkprobe_ua"] - 0.2


def test_standardize_per_speaker_gives_each_speaker_zero_mean_unit_std(voiced_parts):
    features, _, speakers = voiced_parts
    standardized = standardize_per_speaker(features["test"].reshape(90, -1), speakers["test"])
    for s in set(speakers["test"]):
        rows = np.array(speakers["test"]) == s
        np.testing.assert_allclose(standardized[rows].mean(axis=0), 0, atol=1e-9)
        np.testing.assert_allclose(standardized[rows].std(axis=0), 1, atol=1e-4)
