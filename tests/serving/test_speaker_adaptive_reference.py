"""Judging new clips against one speaker's reference clips encoded once (what the demo's voice calibration
keeps): ``SpeakerAdaptiveRecognizer.encode`` / ``.against`` and ``SpeakerAdaptiveHead.probabilities_against``."""

from __future__ import annotations

import numpy as np
import pytest

from hf_emotion.serving.adaptive_recognizer import SpeakerAdaptiveRecognizer
from hf_emotion.serving.speaker_adaptive import SpeakerAdaptiveHead


def test_a_clip_against_cached_reference_features_scores_as_given_with_the_reference_clips(
    adapted_model, ravdess_dir
):
    recognizer = SpeakerAdaptiveRecognizer.from_pretrained(adapted_model)
    files = sorted((ravdess_dir / "Actor_07").glob("*.wav"))
    reference_files, new_files = files[:6], files[6:9]
    reference = recognizer.encode(reference_files)
    assert reference.shape[0] == 6 and reference.ndim == 3  # (clips, layers, hidden)

    judged = recognizer.against(new_files, reference)
    assert [p.source for p in judged] == [str(f) for f in new_files]
    assert {p.mode for p in judged} == {"speaker_adaptive"}
    for new, prediction in zip(new_files, judged, strict=True):
        together = recognizer([*reference_files, new])[-1]  # encoded and standardised all at once
        assert prediction.probabilities == pytest.approx(together.probabilities, abs=1e-5)
        assert prediction.label == together.label


def test_new_clips_are_standardised_with_the_reference_only_not_with_each_other():
    rng = np.random.default_rng(0)
    speakers = [f"s{i // 8}" for i in range(32)]
    features = rng.normal(size=(32, 2, 5)) + np.repeat(rng.normal(scale=3, size=(4, 1, 5)), 8, axis=0)
    head = SpeakerAdaptiveHead.fit(features, [i % 3 for i in range(32)], speakers, ["a", "b", "c"], C=1.0)
    reference, new = rng.normal(size=(5, 2, 5)), rng.normal(size=(3, 2, 5)) + 2.0

    against = head.probabilities_against(new, reference)
    assert against.shape == (3, 3) and np.allclose(against.sum(axis=1), 1.0)
    np.testing.assert_allclose(against[1:2], head.probabilities_against(new[1:2], reference))
    alone = head.probabilities(np.concatenate([reference, new[1:2]]), ["me"] * 6)[-1]
    np.testing.assert_allclose(against[1], alone)
    jointly = head.probabilities(np.concatenate([reference, new]), ["me"] * 8)[5:]
    assert not np.allclose(against, jointly)  # the new clips would have shifted each other's standard
    assert head.probabilities_against(new[:0], reference).shape == (0, 3)


def test_too_few_reference_clips_are_refused_before_encoding(adapted_model):
    recognizer = SpeakerAdaptiveRecognizer.from_pretrained(adapted_model)
    with pytest.raises(ValueError, match="2 reference clips; .* at least 3 others"):
        recognizer.against(["never-read.wav"], np.zeros((2, 2, 16)))
