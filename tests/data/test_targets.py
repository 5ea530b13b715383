"""hf_emotion.data.targets: valence/arousal proxy targets from the circumplex table."""

from __future__ import annotations

import pytest

from hf_emotion.data.labels import EMOTIONS
from hf_emotion.data.targets import CIRCUMPLEX, valence_arousal_targets


def test_neutral_sits_at_the_origin():
    assert valence_arousal_targets("neutral", 1.0) == (0.0, 0.0)


def test_strong_intensity_scales_arousal_not_valence():
    valence, arousal = valence_arousal_targets("angry", 1.0)
    assert valence == CIRCUMPLEX["angry"][0] and arousal == pytest.approx(CIRCUMPLEX["angry"][1] * 1.5)


def test_normal_intensity_is_the_table_point():
    assert valence_arousal_targets("happy", 0.5) == CIRCUMPLEX["happy"]


def test_targets_stay_in_the_unit_square():
    for emotion in EMOTIONS:
        for intensity in (0.0, 0.5, 1.0):
            v, a = valence_arousal_targets(emotion, intensity)
            assert -1 <= v <= 1 and -1 <= a <= 1


def test_unknown_emotion_error_lists_the_known_ones():
    with pytest.raises(KeyError, match="known"):
        valence_arousal_targets("bored")
