"""hf_emotion.data.audio: one decode function for every file, byte string and array."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hf_emotion.data.audio import AudioDecodeError, audio_info, decode_audio, stream_audio_blocks
from hf_emotion.data.labels import EMOTIONS
from tests.synth import emotion_signal, write_audio


@pytest.mark.parametrize(
    "subtype,extension,rate,channels",
    [
        ("PCM_16", "wav", 16000, 1),
        ("PCM_24", "wav", 48000, 2),
        ("FLOAT", "wav", 22050, 1),
        ("PCM_U8", "wav", 8000, 2),
        ("PCM_16", "flac", 44100, 1),
        ("VORBIS", "ogg", 32000, 1),
        ("MPEG_LAYER_III", "mp3", 44100, 2),
    ],
)
def test_decode_any_format_to_mono_16k(tmp_path, subtype, extension, rate, channels):
    seconds = 0.5
    tone = emotion_signal("happy", seconds, rate)
    samples = np.stack([tone] * channels, axis=1) if channels > 1 else tone
    path = write_audio(tmp_path / f"clip.{extension}", samples, rate, subtype=subtype)
    out = decode_audio(path, 16000)
    assert out.dtype == np.float32 and out.ndim == 1
    # MP3 encoders add a little padding at both ends.
    assert abs(out.shape[0] - 8000) <= (2500 if extension == "mp3" else 2)
    assert 0.05 < np.abs(out).max() <= 1.0


def test_int_array_with_channels_first_decodes_like_its_float_mono():
    tone = emotion_signal("sad", 1.0, 8000)
    as_int = (tone * 32767).astype(np.int16)
    stereo_first = np.stack([as_int, as_int])  # (channels, frames)
    out = decode_audio(stereo_first, 16000, orig_sampling_rate=8000)
    assert out.shape == (16000,)
    reference = decode_audio(tone, 16000, orig_sampling_rate=8000)
    np.testing.assert_allclose(out, reference, atol=1e-3)


def test_file_bytes_decode_like_the_file(tmp_path):
    path = write_audio(tmp_path / "a.flac", emotion_signal("calm", 0.3), 16000)
    assert decode_audio(path.read_bytes(), 16000).shape == (4800,)


def _bad_files(root: Path) -> dict[str, Path]:
    root.mkdir(parents=True, exist_ok=True)
    files = {}
    files["empty"] = root / "empty.wav"
    files["empty"].write_bytes(b"")
    files["corrupt"] = root / "text.wav"
    files["corrupt"].write_text("this is not audio\n" * 20)
    good = write_audio(root / "good.wav", emotion_signal("angry", 1.0), 16000)
    truncated = root / "truncated.wav"
    truncated.write_bytes(good.read_bytes()[:30])
    files["truncated"] = truncated
    files["silent"] = write_audio(root / "silent.wav", np.zeros(8000, dtype=np.float32), 16000)
    nan = emotion_signal("angry", 0.5)
    nan[100] = np.nan
    files["non_finite"] = write_audio(root / "nan.wav", nan, 16000, subtype="FLOAT")
    return files


@pytest.mark.parametrize("kind", ["empty", "corrupt", "truncated", "silent", "non_finite"])
def test_bad_files_raise_typed_error_naming_the_file(tmp_path, kind):
    path = _bad_files(tmp_path)[kind]
    with pytest.raises(AudioDecodeError) as caught:
        decode_audio(path)
    assert str(path) in str(caught.value)
    expected = {"truncated": ("corrupt", "empty")}.get(kind, (kind,))
    assert caught.value.reason in expected


def test_missing_file_is_reported_as_missing(tmp_path):
    with pytest.raises(AudioDecodeError, match="file not found") as caught:
        decode_audio(tmp_path / "nope.wav")
    assert caught.value.reason == "missing"


def test_clip_over_the_duration_limit_is_refused(tmp_path):
    long_path = write_audio(tmp_path / "long.wav", np.full(16000 * 5, 0.1, dtype=np.float32), 16000)
    with pytest.raises(AudioDecodeError, match="over the limit") as caught:
        decode_audio(long_path, max_duration=2.0)
    assert caught.value.reason == "too_long"


def test_audio_info_reads_the_duration_without_decoding(tmp_path):
    path = write_audio(tmp_path / "long.wav", np.full(16000 * 5, 0.1, dtype=np.float32), 16000)
    assert audio_info(path).duration == pytest.approx(5.0)


def test_silence_allowed_when_asked(tmp_path):
    path = write_audio(tmp_path / "s.wav", np.zeros(1600, dtype=np.float32), 16000)
    assert decode_audio(path, allow_silence=True).shape == (1600,)


def test_stream_blocks_match_whole_decode(tmp_path):
    signal = np.concatenate([emotion_signal(e, 1.0, 44100, seed=i) for i, e in enumerate(EMOTIONS)])
    path = write_audio(tmp_path / "long.wav", signal, 44100)
    blocks = list(stream_audio_blocks(path, 16000, block_seconds=1.5))
    assert all(b.shape[0] == 24000 for b in blocks[:-1])
    streamed = np.concatenate(blocks)
    whole = decode_audio(path, 16000)
    assert abs(streamed.shape[0] - whole.shape[0]) <= 2
    n = min(streamed.shape[0], whole.shape[0]) - 200
    np.testing.assert_allclose(streamed[200:n], whole[200:n], atol=2e-3)
