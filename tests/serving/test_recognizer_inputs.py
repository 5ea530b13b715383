"""EmotionRecognizer's input checks (issue 16, item 5): odd arrays and rates are per-input errors
that ``errors="return"`` keeps to that input; unusable window, hop and batch_size name themselves."""

from __future__ import annotations

import numpy as np
import pytest

from hf_emotion.data.audio import AudioDecodeError
from hf_emotion.serving.recognizer import EmotionRecognizer
from tests.serving.test_inference import make_emotion_model_dir
from tests.synth import emotion_signal


@pytest.fixture(scope="module")
def recognizer(tiny_wav2vec2_dir, tmp_path_factory) -> EmotionRecognizer:
    return EmotionRecognizer.from_pretrained(
        make_emotion_model_dir(tiny_wav2vec2_dir, tmp_path_factory.mktemp("inputs-model"))
    )


def test_channels_first_array_with_more_than_16_channels_is_refused_not_called_silent(recognizer):
    loud = np.stack([emotion_signal("angry", 1.0)] * 20)  # (20 channels, 16000 frames)
    with pytest.raises(
        AudioDecodeError, match=r"more than 16 channels.*\(20, 16000\)|\(20, 16000\).*16 channels"
    ):
        recognizer(loud, sampling_rate=16_000)
    good = emotion_signal("angry", 1.0)
    results = recognizer([loud, good], sampling_rate=16_000, errors="return")
    assert isinstance(results[0], AudioDecodeError) and results[0].reason == "corrupt"
    assert not results[1].silent and results[1].label is not None
    # Up to 16 channels, either way round, is read as channels and mixed down.
    sixteen = np.stack([good] * 16)
    assert recognizer(sixteen, sampling_rate=16_000).probabilities == pytest.approx(
        recognizer(sixteen.T, sampling_rate=16_000).probabilities, abs=1e-6
    )


def test_empty_two_channel_array_is_empty_not_nan(recognizer):
    with pytest.raises(AudioDecodeError) as raised:
        recognizer(np.zeros((0, 2), dtype=np.float32), sampling_rate=16_000)
    assert raised.value.reason == "empty" and "NaN" not in str(raised.value)


@pytest.mark.parametrize("rate", [float("nan"), "16000", 0, -8000, 16000.5, True, float("inf")])
def test_unusable_sampling_rate_is_a_per_input_error(recognizer, rate):
    clip = emotion_signal("sad", 0.6)
    with pytest.raises(AudioDecodeError, match="sampling_rate="):
        recognizer(clip, sampling_rate=rate)
    # The same rate inside a dict, in a batch with errors="return": that input fails, the others go on.
    results = recognizer(
        [{"array": clip, "sampling_rate": rate}, {"array": clip, "sampling_rate": 16_000}], errors="return"
    )
    assert isinstance(results[0], AudioDecodeError) and "sampling_rate" in results[0].detail
    assert results[1].label is not None


@pytest.mark.parametrize(
    "argument, value",
    [
        ("window", 0),
        ("hop", 0),
        ("batch_size", 0),
        ("window", -1.0),
        ("batch_size", 2.5),
        ("segment", "words"),
    ],
)
def test_zero_or_wrong_window_hop_batch_size_are_refused_by_name(recognizer, argument, value):
    clip = emotion_signal("happy", 0.6)
    with pytest.raises(ValueError, match=rf"^{argument}="):
        recognizer(clip, sampling_rate=16_000, **{argument: value})
    with pytest.raises(ValueError, match=rf"^{argument}="):
        EmotionRecognizer(recognizer.scorer, **{argument: value})


@pytest.mark.parametrize("rate", [16, 44.0, 3999])
def test_a_rate_below_4000_hz_is_refused_with_a_hint_not_stretched_into_windows(recognizer, rate):
    clip = emotion_signal("sad", 0.05)  # at 16 Hz this would be 50 s of audio: dozens of windows
    with pytest.raises(
        AudioDecodeError, match=r"below 4000 Hz no speech is left; did you pass the rate in kHz"
    ):
        recognizer(clip, sampling_rate=rate)
    results = recognizer(
        [{"array": clip, "sampling_rate": rate}, clip], sampling_rate=16_000, errors="return"
    )
    assert isinstance(results[0], AudioDecodeError) and results[0].detail.startswith(
        f"sampling_rate={rate!r}"
    )
    assert results[1].label is not None


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_audio_holding_inf_or_nan_is_a_per_input_error(recognizer, bad):
    clip = emotion_signal("happy", 0.6)
    clip[10] = bad
    with pytest.raises(AudioDecodeError, match="contains 1 NaN or infinite samples"):
        recognizer(clip, sampling_rate=16_000)
    results = recognizer([clip, emotion_signal("happy", 0.6)], sampling_rate=16_000, errors="return")
    assert isinstance(results[0], AudioDecodeError) and results[0].reason == "non_finite"
    assert results[1].label is not None


def test_speaker_adaptive_recordings_and_reference_clips_check_the_rate_as_calls_do(adapted_model):
    from hf_emotion.serving.adaptive_recognizer import SpeakerAdaptiveRecognizer

    recognizer = EmotionRecognizer.from_pretrained(adapted_model)
    clip = emotion_signal("calm", 0.1)
    with pytest.raises(AudioDecodeError, match="sampling_rate=16: below 4000 Hz"):
        recognizer.speaker_adaptive_recording(clip, sampling_rate=16)
    with pytest.raises(AudioDecodeError, match="sampling_rate=0 must be a positive whole number"):
        SpeakerAdaptiveRecognizer(recognizer).encode([clip] * 4, sampling_rate=0)
