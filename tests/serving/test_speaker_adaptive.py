"""The speaker-adaptive head: features standardised on each speaker's own clips, saved with the model."""

from __future__ import annotations

import numpy as np
import pytest

from hf_emotion.evaluation.metrics import classification_metrics
from hf_emotion.serving.speaker_adaptive import SpeakerAdaptiveHead
from hf_emotion.training.speaker_adaptive_head import fit_speaker_adaptive_head

LABELS = ["neutral", "happy", "angry"]


def _voices(speakers, seed, clips_per_label=4, dims=8):
    """Each voice moves every feature far (offset, spread); each emotion moves a few a little, in every voice."""
    rng = np.random.default_rng(seed)
    directions = np.eye(len(LABELS), dims)
    features, labels, names = [], [], []
    for speaker in speakers:
        offset, spread = rng.normal(0, 8, dims), rng.uniform(0.5, 3, dims)
        for label in range(len(LABELS)):
            for _ in range(clips_per_label):
                features.append(offset + spread * (directions[label] + 0.15 * rng.standard_normal(dims)))
                labels.append(label)
                names.append(speaker)
    return np.asarray(features)[:, None, :], labels, names  # (N, L=1, H)


def test_standardising_on_each_voice_recovers_emotions_a_clip_by_clip_classifier_misses():
    from sklearn.linear_model import LogisticRegression

    train, validation = _voices(["a", "b", "c", "d"], 0), _voices(["e", "f"], 1)
    test = _voices(["x", "y", "z"], 2)

    head, chosen = fit_speaker_adaptive_head(train, validation, LABELS)

    adaptive = classification_metrics(test[1], head.probabilities(test[0], test[2]).argmax(1), LABELS)["ua"]
    plain = LogisticRegression(max_iter=2000).fit(train[0][:, 0], train[1]).predict(test[0][:, 0])
    assert adaptive > 0.9 and adaptive > classification_metrics(test[1], plain, LABELS)["ua"] + 0.3
    assert chosen["validation_adaptive_ua"] > 0.9 and head.C == chosen["adaptive_C"]


def test_the_head_saved_next_to_a_model_gives_the_same_probabilities(tmp_path):
    train = _voices(["a", "b", "c"], 0)
    head = SpeakerAdaptiveHead.fit(*train, LABELS, C=0.1)
    test = _voices(["x"], 3)

    head.save(tmp_path)
    loaded = SpeakerAdaptiveHead.load(tmp_path)

    assert loaded.labels == LABELS and loaded.C == 0.1
    np.testing.assert_array_equal(
        loaded.probabilities(test[0], test[2]), head.probabilities(test[0], test[2])
    )
    with pytest.raises(FileNotFoundError, match="no speaker-adaptive head"):
        SpeakerAdaptiveHead.load(tmp_path / "elsewhere")


def test_a_speaker_with_too_few_clips_is_refused_with_what_to_do():
    train = _voices(["a", "b"], 0)
    head = SpeakerAdaptiveHead.fit(*train, LABELS, C=0.1)
    features, _, speakers = _voices(["x"], 1, clips_per_label=1)
    with pytest.raises(ValueError, match="at least 4 clips of each speaker.*score clip by clip"):
        head.probabilities(features[:2], speakers[:2])
