"""Recording conditions: noise at the asked SNR, babble from other talkers, rooms, telephone, MP3."""

from __future__ import annotations

import numpy as np
import pytest

from hf_emotion.data.conditions import make_condition, mu_law, parse_condition

RATE = 16_000


def _tone(freq, seconds=1.0, amplitude=0.3):
    t = np.arange(int(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _snr(clean, degraded):
    return 10 * np.log10(np.mean(clean.astype(np.float64) ** 2) / np.mean((degraded - clean) ** 2))


def _power_at(x, freq):
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    return spectrum[int(round(freq * len(x) / RATE))] / spectrum.sum()


@pytest.mark.parametrize("snr", [20.0, 10.0, 5.0])
def test_white_noise_is_added_at_the_asked_snr_and_is_the_same_for_the_same_clip(snr):
    clip = _tone(220)
    add = make_condition(f"white:{snr:g}", RATE)
    assert _snr(clip, add(clip, 3)) == pytest.approx(snr, abs=0.01)
    np.testing.assert_array_equal(add(clip, 3), add(clip, 3))
    assert not np.array_equal(add(clip, 3), add(clip, 4))


def test_babble_is_made_of_other_speakers_clips_only():
    signals = [_tone(200), _tone(200, 0.7), _tone(1000), _tone(2000, 0.5), _tone(3000)]
    speakers = ["a", "a", "b", "c", "d"]
    babble = make_condition("babble:10", RATE, signals=signals, speakers=speakers)

    degraded = babble(signals[0], 0)
    noise = degraded - signals[0]

    assert _snr(signals[0], degraded) == pytest.approx(10.0, abs=0.01)
    assert _power_at(noise, 200) < 1e-3  # none of speaker a's own voice
    assert min(_power_at(noise, f) for f in (1000, 2000, 3000)) > 0.1  # all three other talkers
    with pytest.raises(ValueError, match="two speakers"):
        make_condition("babble:10", RATE, signals=signals[:2], speakers=speakers[:2])


def test_reverberation_spreads_a_click_more_in_a_livelier_room():
    pytest.importorskip("pyroomacoustics")
    click = np.zeros(RATE, dtype=np.float32)
    click[1000] = 1.0

    def tail(rt60):
        wet = make_condition(f"reverb:{rt60}", RATE)(click, 0)
        assert int(np.argmax(np.abs(wet))) == pytest.approx(1000, abs=2)  # aligned on the direct path
        energy = wet.astype(np.float64) ** 2
        return energy[1000 + RATE // 20 :].sum() / energy.sum()  # after the first 50 ms

    dry, live = tail(0.3), tail(0.8)
    assert 0.01 < dry < live


def test_telephone_keeps_the_speech_band_and_drops_what_a_phone_line_cannot_carry():
    phone = make_condition("telephone", RATE)
    speech_band, high, low = _tone(1000), _tone(6000), _tone(100)
    assert _snr(speech_band, phone(speech_band, 0)) > 15
    assert np.sqrt(np.mean(phone(high, 0) ** 2)) < 0.01 * np.sqrt(np.mean(high**2))
    assert np.sqrt(np.mean(phone(low, 0) ** 2)) < 0.2 * np.sqrt(np.mean(low**2))
    levels = np.linspace(-1, 1, 2001)
    assert len(np.unique(np.round(mu_law(levels), 9))) <= 256  # 8-bit codes


def test_mp3_roundtrip_is_lossy_but_stays_aligned():
    pytest.importorskip("lameenc")
    clip = _tone(300) + _tone(1300, amplitude=0.1)
    coded = make_condition("mp3:64", RATE)(clip, 0)
    assert coded.shape == clip.shape
    assert 15 < _snr(clip, coded) < 60


def test_bad_condition_specs_say_what_to_write():
    assert parse_condition("babble:10") == ("babble", 10.0)
    assert make_condition("clean", RATE) is None
    with pytest.raises(ValueError, match="babble:<SNR in dB>"):
        parse_condition("babble")
    with pytest.raises(ValueError, match="unknown; use clean"):
        parse_condition("pink:10")
    with pytest.raises(ValueError, match="takes no value"):
        parse_condition("telephone:8")
