"""Condition augmentation for training: degrades the asked share of clips, keeps their length."""

from __future__ import annotations

import numpy as np
import pytest

from tests.synth import emotion_signal, write_audio

pytest.importorskip("audiomentations")
pytest.importorskip("pyroomacoustics")


def test_augmenter_degrades_every_clip_at_p1_and_none_at_p0(tmp_path):
    from hf_emotion.data.augmentation import ConditionAugmenter

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
    from hf_emotion.data.augmentation import TRAINING_RT60S, write_room_impulse_responses

    first = write_room_impulse_responses(tmp_path, 16000)
    stamps = [p.stat().st_mtime_ns for p in first]
    again = write_room_impulse_responses(tmp_path, 16000)
    assert again == first and len(first) == len(TRAINING_RT60S)
    assert [p.stat().st_mtime_ns for p in again] == stamps


class _Recorder:
    """An augmenter that marks what it was given, so a test sees which batches went through it."""

    def __init__(self):
        self.calls = 0

    def __call__(self, clip):
        self.calls += 1
        return np.zeros_like(clip)


def test_collator_augments_training_crops_and_never_evaluation_clips():
    from transformers import Wav2Vec2FeatureExtractor

    from hf_emotion.model.batches import EmotionDataCollator

    extractor = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, do_normalize=False)
    examples = [{"input_audio": emotion_signal("angry", 1.0, seed=i), "emotion": 4} for i in range(3)]
    recorder = _Recorder()
    training = EmotionDataCollator(extractor, False, 0.5, random_crop=True, augment=recorder)
    evaluation = EmotionDataCollator(extractor, False, 0.5, random_crop=False, augment=recorder)

    assert not training(examples)["input_values"].abs().any()  # every crop replaced by the augmenter
    assert recorder.calls == 3
    assert evaluation(examples)["input_values"].abs().any()
    assert recorder.calls == 3


def test_finetune_with_condition_augmentation_trains_and_says_so(
    tmp_path, ravdess_dir, tiny_wav2vec2_dir, capsys
):
    from hf_emotion.training import finetune

    results = finetune.main(
        [
            "--model_name_or_path", str(tiny_wav2vec2_dir), "--dataset", "ravdess", "--data_dir", str(ravdess_dir),
            "--num_folds", "4", "--fold", "0", "--max_steps", "2", "--learning_rate", "1e-3",
            "--linear_probe_epochs", "0", "--refit_heads_epochs", "0", "--augment_conditions", "1.0",
            "--per_device_train_batch_size", "8", "--output_dir", str(tmp_path / "run"),
        ]
    )  # fmt: skip
    assert "Augmentation: 100% of training crops degraded" in capsys.readouterr().out
    assert 0.0 <= results["eval_ua"] <= 1.0


def test_augmentation_share_outside_zero_one_is_refused(tmp_path):
    from hf_emotion.training.arguments import DataArguments

    with pytest.raises(ValueError, match="--augment_conditions"):
        DataArguments(augment_conditions=1.5)
