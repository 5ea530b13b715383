"""Condition augmentation for training: degrades the asked share of clips, keeps their length."""

from __future__ import annotations

import numpy as np
import pytest

from tests.synth import emotion_signal, write_audio

pytest.importorskip("audiomentations")
pytest.importorskip("pyroomacoustics")


def test_augmenter_degrades_every_clip_at_p1_and_none_at_p0(tmp_path):
    from hf_emotion.augmentation import ConditionAugmenter

    noise = [write_audio(tmp_path / f"other{i}.wav", emotion_signal("happy", 0.8, seed=i)) for i in range(3)]
    always = ConditionAugmenter(16000, noise_clips=noise, rir_folder=tmp_path / "rirs", p=1.0)
    never = ConditionAugmenter(16000, noise_clips=noise, rir_folder=tmp_path / "rirs", p=0.0)
    clips = [emotion_signal("sad", 0.5 + 0.1 * i, seed=i) for i in range(12)]

    for clip in clips:
        degraded = always(clip)
        assert degraded.shape == clip.shape and degraded.dtype == np.float32 and np.isfinite(degraded).all()
        assert not np.allclose(degraded, clip, atol=1e-4)
        np.testing.assert_array_equal(never(clip), clip)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ConditionAugmenter(16000, noise_clips=noise, rir_folder=tmp_path / "rirs", p=1.5)


def test_room_impulse_responses_are_made_once(tmp_path):
    from hf_emotion.augmentation import TRAINING_RT60S, write_room_impulse_responses

    first = write_room_impulse_responses(tmp_path, 16000)
    stamps = [p.stat().st_mtime_ns for p in first]
    again = write_room_impulse_responses(tmp_path, 16000)
    assert again == first and len(first) == len(TRAINING_RT60S)
    assert [p.stat().st_mtime_ns for p in again] == stamps
