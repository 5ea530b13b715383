"""Framing conditions: clips cut to their speech, then framed again in silence or room noise."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from hf_emotion.data.conditions import (
    FRAMING_CONDITIONS,
    condition_key,
    make_condition,
    parse_condition,
    parse_steps,
)
from hf_emotion.data.framing import ROOM_NOISE_DBFS, energy_speech_span, room_noise, vad_speech_span
from tests.data.test_vad import spoken

RATE = 16_000


def tone_burst(before: float, burst: float, after: float, rate: int = RATE) -> np.ndarray:
    t = np.arange(round(burst * rate)) / rate
    tone = 0.3 * np.sin(2 * np.pi * 440 * t)
    return np.concatenate([np.zeros(round(before * rate)), tone, np.zeros(round(after * rate))]).astype(
        np.float32
    )


@pytest.mark.parametrize("rate", [16_000, 44_100])
def test_energy_trim_cuts_a_tone_burst_to_its_length_within_20_ms(rate):
    clip = tone_burst(1.0, 0.8, 0.7, rate)
    trimmed = make_condition("trim:energy", rate)(clip, 0)
    assert abs(len(trimmed) / rate - 0.8) <= 0.020
    start, _ = energy_speech_span(clip, rate)
    assert abs(start / rate - 1.0) <= 0.020


def test_vad_trim_is_the_cut_segment_vad_makes(tmp_path):
    if shutil.which("espeak-ng") is None:
        pytest.skip("needs espeak-ng for real speech (apt-get install espeak-ng)")
    pytest.importorskip("silero_vad")
    from hf_emotion.data.vad import speech_spans

    speech = spoken("the kids are talking by the door", tmp_path)
    clip = np.concatenate([np.zeros(RATE), speech, np.zeros(RATE)]).astype(np.float32)
    start, end = vad_speech_span(clip, RATE)
    spans, _ = speech_spans([clip], RATE)  # what predict --segment vad scores
    assert (start, end) == (spans[0][0], spans[-1][1])
    # Within a few of Silero's 32-ms frames of the speech (measured: 24 ms early, 44 ms late).
    assert abs(start - RATE) / RATE <= 0.06
    assert abs(end - (RATE + len(speech))) / RATE <= 0.12
    np.testing.assert_array_equal(make_condition("trim:vad", RATE)(clip, 0), clip[start:end])


def test_a_clip_with_no_speech_found_is_left_whole():
    silence = np.zeros(RATE, dtype=np.float32)
    assert len(make_condition("trim:energy", RATE)(silence, 0)) == RATE


def test_padding_adds_the_asked_seconds_of_silence_or_quiet_noise():
    clip = tone_burst(0.0, 0.5, 0.0)
    framed = make_condition("silence:0.25", RATE)(clip, 3)
    assert len(framed) == len(clip) + RATE // 2
    assert not framed[: RATE // 4].any() and not framed[-RATE // 4 :].any()
    noisy = make_condition("noise:0.5", RATE, seed=1)
    first, again = noisy(clip, 3), noisy(clip, 3)
    np.testing.assert_array_equal(first, again)  # fixed for a clip index and seed
    assert not np.array_equal(first, noisy(clip, 4))
    margin = first[: RATE // 2]
    assert 20 * np.log10(np.sqrt(np.mean(margin**2))) == pytest.approx(ROOM_NOISE_DBFS, abs=0.5)
    np.testing.assert_array_equal(first[RATE // 2 : RATE // 2 + len(clip)], clip)


def test_room_noise_is_pink():
    noise = room_noise(RATE * 4, np.random.default_rng(0)).astype(np.float64)
    power = np.abs(np.fft.rfft(noise)) ** 2
    frequencies = np.fft.rfftfreq(len(noise), 1 / RATE)
    low = power[(frequencies > 100) & (frequencies < 200)].mean()
    high = power[(frequencies > 1000) & (frequencies < 2000)].mean()
    assert 5 < low / high < 20  # 1/f: about ten times the power a decade lower


def test_steps_compose_left_to_right():
    clip = tone_burst(1.0, 0.8, 1.0)
    framed = make_condition("trim:energy+silence:0.5", RATE)(clip, 0)
    assert abs(len(framed) / RATE - 1.8) <= 0.020
    assert parse_steps("trim:vad+noise:1") == [("trim", "vad"), ("noise", 1.0)]
    assert condition_key("trim:vad+silence:0.5") == "trimvad_silence0.5"
    assert condition_key("babble:10") == "babble10"  # existing keys unchanged
    assert all(parse_steps(spec) for spec in FRAMING_CONDITIONS)


@pytest.mark.parametrize(
    "spec, message",
    [("trim", "trim:energy or trim:vad"), ("trim:silero", "trim:energy or trim:vad"),
     ("silence:x", "silence:<seconds>"), ("noise:-1", "0 to 60 seconds"), ("trim:vad+echo:1", "is unknown")],
)  # fmt: skip
def test_bad_framing_specs_say_what_to_write(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_steps(spec)
    if "+" not in spec:
        with pytest.raises(ValueError, match=message):
            parse_condition(spec)


def test_training_framing_is_seeded_varies_per_draw_and_keeps_to_the_speech():
    from hf_emotion.data.framing import TrainingFraming

    framing = TrainingFraming(RATE, max_pad_seconds=1.0)
    clip = np.concatenate([np.zeros(RATE), np.full(2 * RATE, 0.5), np.zeros(RATE)]).astype(np.float32)
    span = (RATE, 3 * RATE)

    def draws(seed: int) -> list[np.ndarray]:
        rng = np.random.default_rng(seed)
        return [framing(clip, span, max_seconds=3.0, rng=rng) for _ in range(12)]

    first = draws(0)
    for a, b in zip(first, draws(0), strict=True):  # the same seed frames the same way
        np.testing.assert_array_equal(a, b)
    assert len({len(crop) for crop in first}) > 6  # a new framing at every draw (epoch)
    for crop in first:
        speech = np.flatnonzero(crop == 0.5)
        assert speech.size >= RATE  # at least a second of the speech, cut from inside it
        assert speech[-1] - speech[0] + 1 == speech.size  # one stretch: only margins around it
        before, after = speech[0], len(crop) - speech[-1] - 1
        assert before <= RATE and after <= RATE  # at most max_pad_seconds each side
        assert len(crop) <= 3 * RATE or speech.size == RATE
        margins = np.concatenate([crop[:before], crop[speech[-1] + 1 :]])
        assert not margins.size or np.abs(margins).max() < 0.01  # silence or quiet room noise
    kinds = {
        ("none" if len(c) == np.count_nonzero(c == 0.5) else "silence" if not c[0] else "noise")
        for c in first
    }
    assert kinds == {"none", "silence", "noise"}


def test_without_silero_speech_is_found_by_energy_with_a_warning(monkeypatch, caplog):
    import importlib.util

    from hf_emotion.data.framing import available_trim_method

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "silero_vad" else real_find_spec(name, *a),
    )
    with caplog.at_level("WARNING", logger="hf_emotion.data.framing"):
        assert available_trim_method() == "energy"
    assert "pip install 'hf-emotion[vad]'" in caplog.text


def test_speech_is_found_once_per_clip_across_a_runs_folds(monkeypatch):
    """Each fold is a new subset of the same clips: spans already found are reused, with the same values."""
    import datasets

    from hf_emotion.data import framing

    monkeypatch.setattr(framing, "_SPANS", framing.OrderedDict())
    found = []

    def counting_energy_span(clip, rate):
        found.append(len(clip))
        return energy_speech_span(clip, rate)

    monkeypatch.setattr(framing, "energy_speech_span", counting_energy_span)
    clips = [tone_burst(0.2 + 0.1 * i, 0.5, 0.3) for i in range(6)]
    corpus = datasets.Dataset.from_dict({"input_audio": clips})
    fold_0 = framing.add_speech_spans(corpus.select([0, 1, 2, 3]), RATE, method="energy")
    assert len(found) == 4
    fold_1 = framing.add_speech_spans(corpus.select([2, 3, 4, 5]), RATE, method="energy")
    assert len(found) == 6  # only clips 4 and 5 are new
    for row, i in enumerate([2, 3, 4, 5]):
        start, end = energy_speech_span(clips[i], RATE)
        assert (fold_1[row]["speech_start"], fold_1[row]["speech_end"]) == (start, end)
        if i < 4:
            assert fold_1[row]["speech_start"] == fold_0[i]["speech_start"]
