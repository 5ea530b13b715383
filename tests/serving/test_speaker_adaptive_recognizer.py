"""Speaker-adaptive mode through the public API: `EmotionRecognizer(..., speaker=...)` and
`speaker_adaptive_recording`, on a tiny random model to which `hf-emotion adapt` added a head."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hf_emotion.data.audio import AudioDecodeError
from hf_emotion.data.labels import EMOTIONS
from hf_emotion.serving.recognizer import EmotionRecognizer
from tests.synth import emotion_signal, write_audio


def test_clips_given_a_speaker_are_judged_against_each_other_and_say_so(adapted_model, ravdess_dir):
    recognizer = EmotionRecognizer.from_pretrained(adapted_model)
    files = (
        sorted((ravdess_dir / "Actor_07").glob("*.wav"))[:5]
        + sorted((ravdess_dir / "Actor_08").glob("*.wav"))[:5]
    )
    clip = recognizer(files)
    adaptive = recognizer(files, speaker=["07"] * 5 + ["08"] * 5)
    assert [p.mode for p in clip] == ["clip"] * 10
    assert [p.mode for p in adaptive] == ["speaker_adaptive"] * 10
    assert [p.source for p in adaptive] == [str(f) for f in files]
    assert list(adaptive[0].probabilities) == list(EMOTIONS)
    assert adaptive[0].valence is None and adaptive[0].arousal is None
    assert not np.allclose(
        [list(p.probabilities.values()) for p in adaptive], [list(p.probabilities.values()) for p in clip]
    )
    # Each speaker is standardised on their own clips only: the other speaker's clips change nothing.
    alone = recognizer(files[:5], speaker="07")
    for together, own in zip(adaptive[:5], alone, strict=True):
        assert together.probabilities == pytest.approx(own.probabilities, abs=1e-5)
    assert json.loads(json.dumps(adaptive[0].to_dict()))["mode"] == "speaker_adaptive"
    assert clip[0].to_dict()["mode"] == "clip"


def test_an_unreadable_clip_is_returned_as_its_error_and_the_rest_are_scored(
    adapted_model, ravdess_dir, tmp_path
):
    recognizer = EmotionRecognizer.from_pretrained(adapted_model)
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"not audio")
    files = [*sorted((ravdess_dir / "Actor_07").glob("*.wav"))[:4], broken]
    results = recognizer(files, speaker="07", errors="return")
    assert isinstance(results[-1], AudioDecodeError)
    assert [p.mode for p in results[:4]] == ["speaker_adaptive"] * 4


def test_speaker_mode_without_a_head_names_hf_emotion_adapt(tiny_wav2vec2_dir, tmp_path):
    from tests.serving.test_inference import make_emotion_model_dir

    folder = make_emotion_model_dir(tiny_wav2vec2_dir, tmp_path / "model", labels=list(EMOTIONS))
    recognizer = EmotionRecognizer.from_pretrained(folder)
    clips = [emotion_signal(e, 0.5, seed=i) for i, e in enumerate(EMOTIONS[:4])]
    with pytest.raises(ValueError, match="speaker_adaptive_head.npz.*hf-emotion adapt"):
        recognizer(clips, sampling_rate=16_000, speaker="me")


def test_speaker_mode_refuses_an_ensemble_and_too_few_clips(adapted_model):
    clips = [emotion_signal(e, 0.5, seed=i) for i, e in enumerate(EMOTIONS[:4])]
    ensemble = EmotionRecognizer.from_pretrained([adapted_model, adapted_model])
    with pytest.raises(ValueError, match="needs a torch model folder with speaker_adaptive_head.npz"):
        ensemble(clips, sampling_rate=16_000, speaker="me")
    recognizer = EmotionRecognizer.from_pretrained(adapted_model)
    with pytest.raises(ValueError, match="at least 4 clips of each speaker"):
        recognizer(clips[:3], sampling_rate=16_000, speaker="me")
    with pytest.raises(ValueError, match="window= and segment='vad' do not apply"):
        recognizer(clips, sampling_rate=16_000, speaker="me", window=1.0)


def test_a_long_recording_gives_a_speaker_adaptive_summary_over_its_windows(adapted_model, tmp_path):
    speech = [emotion_signal(e, 1.5, seed=i) for i, e in enumerate(("angry", "sad", "happy", "neutral"))]
    path = write_audio(tmp_path / "talk.wav", np.concatenate(speech))
    result = EmotionRecognizer.from_pretrained(adapted_model).speaker_adaptive_recording(
        path, window=1.0, hop=0.5
    )
    assert result.mode == "speaker_adaptive" and result.source == str(path)
    assert len(result.timeline) >= 4 and {w.mode for w in result.timeline} == {"speaker_adaptive"}
    mean = np.mean([list(w.probabilities.values()) for w in result.timeline], axis=0)
    np.testing.assert_allclose(list(result.probabilities.values()), mean, atol=1e-6)
    assert result.end == pytest.approx(6.0)


def test_the_recognizer_names_the_head_file_as_the_head_module_does():
    """Loading a model looks for the head without importing its module (scikit-learn, not a serving need)."""
    from hf_emotion.serving import recognizer as inference
    from hf_emotion.serving import speaker_adaptive

    assert inference.HEAD_FILE == speaker_adaptive.HEAD_FILE


def test_a_silent_clip_among_a_speakers_clips_is_marked_silent_as_clip_by_clip_and_the_rest_are_judged(
    adapted_model,
):
    recognizer = EmotionRecognizer.from_pretrained(adapted_model)
    speech = [
        emotion_signal(e, 0.6, seed=i) for i, e in enumerate(("angry", "sad", "happy", "calm", "fearful"))
    ]
    clips = [*speech[:2], np.zeros(16_000, dtype=np.float32), *speech[2:]]
    adaptive = recognizer(clips, sampling_rate=16_000, speaker="me")  # once: AudioDecodeError, pure silence
    clip = recognizer(clips, sampling_rate=16_000)
    assert clip[2].silent and clip[2].label is None
    assert adaptive[2].silent and adaptive[2].label is None and adaptive[2].probabilities == {}
    assert adaptive[2].mode == "speaker_adaptive" and adaptive[2].end == pytest.approx(1.0)
    # The others are judged against each other only: silence is not the speaker's usual self.
    without = recognizer(speech, sampling_rate=16_000, speaker="me")
    judged = adaptive[:2] + adaptive[3:]
    assert [p.mode for p in judged] == ["speaker_adaptive"] * 5 and not any(p.silent for p in judged)
    for got, want in zip(judged, without, strict=True):
        assert got.probabilities == pytest.approx(want.probabilities, abs=1e-6)
    # Leaving silence out can leave a speaker too few clips: the error says why.
    with pytest.raises(ValueError, match=r"at least 4 clips of each speaker.*1 silent inputs were left out"):
        recognizer([*speech[:3], np.zeros(16_000)], sampling_rate=16_000, speaker="me")
