"""--segment vad pads speech with the margin the model was trained with; short clips are one window."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from hf_emotion.serving.recognizer import EmotionRecognizer
from tests.data.test_vad import spoken
from tests.serving.test_inference import make_emotion_model_dir
from tests.synth import emotion_signal, write_audio

RATE = 16_000


@pytest.fixture(scope="module")
def speech_file(tmp_path_factory):
    if shutil.which("espeak-ng") is None:
        pytest.skip("needs espeak-ng for real speech (apt-get install espeak-ng)")
    pytest.importorskip("silero_vad")
    folder = tmp_path_factory.mktemp("vad-pad")
    speech = spoken("the kids are talking by the door", folder)
    clip = np.concatenate([np.zeros(RATE), speech, np.zeros(RATE)]).astype(np.float32)
    return write_audio(folder / "speech.wav", clip, RATE)


def with_margin(folder, seconds):
    config = json.loads((folder / "config.json").read_text())
    config["speech_margin_seconds"] = seconds
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_segment_vad_pads_speech_with_the_margin_the_model_records(speech_file, tiny_wav2vec2_dir, tmp_path):
    old = make_emotion_model_dir(tiny_wav2vec2_dir, tmp_path / "old")  # no margin recorded: no padding
    framed = with_margin(make_emotion_model_dir(tiny_wav2vec2_dir, tmp_path / "framed"), 0.4)
    plain = EmotionRecognizer.from_pretrained(old, segment="vad")(speech_file).timeline
    padded = EmotionRecognizer.from_pretrained(framed, segment="vad")(speech_file).timeline
    assert len(plain) == len(padded) == 1
    assert plain[0].start - padded[0].start == pytest.approx(0.4, abs=0.04)
    assert padded[0].end - plain[0].end == pytest.approx(0.4, abs=0.04)
    # An explicit vad_pad_seconds wins over the model's.
    none = EmotionRecognizer.from_pretrained(framed, segment="vad", vad_pad_seconds=0.0)(speech_file).timeline
    assert none[0].start == pytest.approx(plain[0].start) and none[0].end == pytest.approx(plain[0].end)


def test_a_clip_under_two_windows_is_scored_whole_as_one_window(tiny_wav2vec2_dir, tmp_path):
    recognizer = EmotionRecognizer.from_pretrained(make_emotion_model_dir(tiny_wav2vec2_dir, tmp_path / "m"))
    clip = write_audio(tmp_path / "short.wav", emotion_signal("angry", 3.8), RATE)
    whole = recognizer(clip)
    windowed = recognizer(clip, window=2.0, hop=1.0)
    assert len(windowed.timeline) == 1 and windowed.timeline[0].end == pytest.approx(3.8)
    assert windowed.probabilities == pytest.approx(whole.probabilities, abs=1e-6)
    longer = recognizer(
        write_audio(tmp_path / "long.wav", emotion_signal("angry", 4.2), RATE), window=2.0, hop=1.0
    )
    assert len(longer.timeline) > 1  # two windows or more: a timeline


def test_loud_sound_silero_misses_is_scored_by_level_and_steady_noise_is_not(tiny_wav2vec2_dir, tmp_path):
    """Silero found no speech in some shouted RAVDESS clips, and --segment vad gave them no label."""
    pytest.importorskip("silero_vad")
    recognizer = EmotionRecognizer.from_pretrained(
        make_emotion_model_dir(tiny_wav2vec2_dir, tmp_path / "m"), segment="vad", vad_pad_seconds=0.2
    )
    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(RATE) / RATE)  # loud, and no speech to Silero
    clip = np.concatenate([np.zeros(RATE), tone, np.zeros(RATE)]).astype(np.float32)
    from hf_emotion.data.vad import speech_spans

    assert speech_spans([clip], RATE)[0] == []  # Silero hears no speech in it
    prediction = recognizer(clip, sampling_rate=RATE)
    (segment,) = prediction.timeline
    assert segment.label is not None and prediction.label == segment.label
    assert segment.start == pytest.approx(1.0 - 0.2, abs=0.02) and segment.end == pytest.approx(
        2.0 + 0.2, abs=0.02
    )
    noise = (0.05 * np.random.default_rng(2).standard_normal(3 * RATE)).astype(np.float32)
    assert recognizer(noise, sampling_rate=RATE).timeline == []  # loud, but no part stands out
