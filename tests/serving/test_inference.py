"""EmotionRecognizer on tiny random models and synthetic audio: batching, inputs, long files, bad files."""

from __future__ import annotations

import json
import math
import time
import tracemalloc
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
import torch

from hf_emotion.data.audio import AudioDecodeError
from hf_emotion.data.labels import EMOTIONS
from hf_emotion.serving.mean_scorer import MeanScorer
from hf_emotion.serving.recognizer import (
    EmotionPrediction,
    EmotionRecognizer,
    EnsembleRecognizer,
    sliding_windows,
    window_count,
)
from hf_emotion.serving.scorers import TorchScorer
from tests.synth import emotion_signal, write_audio

LABELS = list(EMOTIONS)


def make_emotion_model_dir(encoder_dir: Path, out_dir: Path, labels=LABELS, seed: int = 0) -> Path:
    """A trained-looking model folder: EmotionModel with random heads + the encoder's feature extractor."""
    from transformers import AutoFeatureExtractor

    from hf_emotion.model.modeling_emotion import EmotionModel

    torch.manual_seed(seed)
    model = EmotionModel.from_encoder_pretrained(encoder_dir, id2label=dict(enumerate(labels)))
    # Random heads give near-uniform probabilities; spread them so label comparisons mean something.
    with torch.no_grad():
        model.classifier.weight.mul_(50.0)
        model.regressor.weight.mul_(50.0)
    model.save_pretrained(out_dir)
    AutoFeatureExtractor.from_pretrained(encoder_dir).save_pretrained(out_dir)
    return out_dir


def write_long_file(path: Path, seconds: float, sampling_rate: int = 16_000, *, silent: bool = False) -> Path:
    """Write a long recording block by block (never the whole signal in memory)."""
    block = 10.0
    subtype = "PCM_16"
    with sf.SoundFile(path, "w", samplerate=sampling_rate, channels=1, subtype=subtype) as handle:
        for i in range(math.ceil(seconds / block)):
            length = min(block, seconds - i * block)
            if silent:
                handle.write(np.zeros(int(length * sampling_rate), dtype=np.float32))
            else:
                emotion = EMOTIONS[i % len(EMOTIONS)]
                handle.write(emotion_signal(emotion, length, sampling_rate, seed=i))
    return path


@pytest.fixture(scope="module")
def wav2vec2_model_dir(tiny_wav2vec2_dir, tmp_path_factory) -> Path:
    return make_emotion_model_dir(tiny_wav2vec2_dir, tmp_path_factory.mktemp("emotion-wav2vec2"))


@pytest.fixture(scope="module")
def whisper_model_dir(tiny_whisper_dir, tmp_path_factory) -> Path:
    return make_emotion_model_dir(tiny_whisper_dir, tmp_path_factory.mktemp("emotion-whisper"))


@pytest.fixture(scope="module")
def fast_recognizer(tmp_path_factory) -> EmotionRecognizer:
    """Tiny wav2vec2 at 50 frames/s (like the real one; the shared fixture runs at 800): for long files."""
    from transformers import Wav2Vec2FeatureExtractor, Wav2Vec2Model

    from tests.conftest import tiny_wav2vec2_config

    torch.manual_seed(0)
    encoder_dir = tmp_path_factory.mktemp("fast-wav2vec2")
    Wav2Vec2Model(
        tiny_wav2vec2_config(conv_dim=(16, 16), conv_stride=(20, 16), conv_kernel=(20, 16))
    ).save_pretrained(encoder_dir)
    Wav2Vec2FeatureExtractor(return_attention_mask=True).save_pretrained(encoder_dir)
    return EmotionRecognizer.from_pretrained(
        make_emotion_model_dir(encoder_dir, tmp_path_factory.mktemp("emotion-fast"))
    )


@pytest.fixture(scope="module")
def recognizer(wav2vec2_model_dir) -> EmotionRecognizer:
    return EmotionRecognizer.from_pretrained(wav2vec2_model_dir)


@pytest.fixture(scope="module")
def whisper_recognizer(whisper_model_dir) -> EmotionRecognizer:
    return EmotionRecognizer.from_pretrained(whisper_model_dir)


# ---------------------------------------------------------------------- windows


def test_window_count_and_sliding_windows_agree():
    rate = 100
    for duration, window, hop in [
        (600.0, 3.0, 1.5),
        (10.0, 3.0, 1.5),
        (2.0, 3.0, 1.5),
        (9.0, 3.0, 3.0),
        (9.5, 3, 3),
    ]:
        signal = np.arange(int(duration * rate), dtype=np.float32)
        blocks = (signal[i : i + 37] for i in range(0, len(signal), 37))
        windows = list(
            sliding_windows(blocks, window_samples=int(window * rate), hop_samples=int(hop * rate))
        )
        assert len(windows) == window_count(duration, window, hop), (duration, window, hop)
        # Windows are the signal's own samples, starting every hop, the last one ending the signal.
        for start, samples in windows:
            np.testing.assert_array_equal(samples, signal[start : start + len(samples)])
        assert windows[-1][0] + len(windows[-1][1]) == len(signal)


# ---------------------------------------------------------------------- batching


@pytest.mark.parametrize("backbone", ["wav2vec2", "whisper"])
def test_batched_equals_one_by_one(backbone, recognizer, whisper_recognizer):
    model = recognizer if backbone == "wav2vec2" else whisper_recognizer
    clips = [
        emotion_signal(emotion, seconds, seed=i)
        for i, (emotion, seconds) in enumerate(
            zip(EMOTIONS, [0.5, 2.0, 1.1, 0.8, 1.7, 0.63, 1.25, 2.4], strict=True)
        )
    ]
    batched = model(clips, sampling_rate=16_000, batch_size=8)
    single = [model(clip, sampling_rate=16_000, batch_size=1) for clip in clips]
    assert len({round(p.duration, 2) for p in batched}) == len(clips)  # really different lengths
    for b, s in zip(batched, single, strict=True):
        assert b.label == s.label
        np.testing.assert_allclose(
            [b.probabilities[k] for k in LABELS], [s.probabilities[k] for k in LABELS], atol=2e-3
        )
        np.testing.assert_allclose([b.valence, b.arousal], [s.valence, s.arousal], atol=2e-3)
        assert -1.0 <= b.valence <= 1.0 and -1.0 <= b.arousal <= 1.0
        assert math.isclose(sum(b.probabilities.values()), 1.0, abs_tol=1e-4)
    # The clips' answers differ far more than the tolerance: the comparison is not vacuous.
    spread = np.ptp([[p.probabilities[k] for k in LABELS] for p in single], axis=0).max()
    assert spread > 0.02, spread


def test_bfloat16_agrees_with_float32(whisper_model_dir):
    clips = [emotion_signal(emotion, 1.0, seed=i) for i, emotion in enumerate(EMOTIONS)]
    full = EmotionRecognizer.from_pretrained(whisper_model_dir)(clips, sampling_rate=16_000)
    half = EmotionRecognizer.from_pretrained(whisper_model_dir, dtype="bfloat16")
    assert half.scorer.dtype == torch.bfloat16
    for a, b in zip(full, half(clips, sampling_rate=16_000), strict=True):
        assert a.probabilities == pytest.approx(b.probabilities, abs=0.05)
    with pytest.raises(ValueError, match="not a torch dtype"):
        EmotionRecognizer.from_pretrained(whisper_model_dir, dtype="float33")


def test_model_stays_in_eval_and_results_are_named(recognizer, tmp_path):
    assert not recognizer.scorer.model.training
    prediction = recognizer(write_audio(tmp_path / "a.wav", emotion_signal("happy", 1.0)))
    assert isinstance(prediction, EmotionPrediction)
    assert list(prediction.probabilities) == LABELS
    assert prediction.label == max(prediction.probabilities, key=prediction.probabilities.get)
    assert prediction.confidence == prediction.probabilities[prediction.label]
    assert prediction.source.endswith("a.wav") and prediction.timeline is None
    assert prediction.end == pytest.approx(1.0)
    record = json.loads(json.dumps(prediction.to_dict()))
    assert record["label"] == prediction.label and set(record["probabilities"]) == set(LABELS)


# ---------------------------------------------------------------------- inputs of every kind


def test_any_rate_channels_and_format(recognizer, tmp_path):
    mono = emotion_signal("angry", 1.0, 48_000)
    stereo_8k = np.stack([emotion_signal("angry", 1.0, 8_000)] * 2, axis=1)
    int16 = (emotion_signal("angry", 1.0, 22_050) * 32767).astype(np.int16)
    inputs = [
        write_audio(tmp_path / "stereo-8k.wav", stereo_8k, 8_000),
        write_audio(tmp_path / "96k.wav", emotion_signal("angry", 1.0, 96_000), 96_000, subtype="FLOAT"),
        write_audio(tmp_path / "24bit.flac", mono, 48_000, subtype="PCM_24"),
        (tmp_path / "stereo-8k.wav").read_bytes(),
        {"array": int16, "sampling_rate": 22_050},
    ]
    predictions = recognizer(inputs)
    assert [round(p.duration, 2) for p in predictions] == [1.0] * 5
    assert all(p.label in LABELS and not p.silent for p in predictions)
    # A torch tensor (channels first) and its numpy twin give the same answer.
    tensor = torch.from_numpy(stereo_8k.T.copy())
    a = recognizer(tensor, sampling_rate=8_000)
    b = recognizer(stereo_8k, sampling_rate=8_000)
    assert a.probabilities == pytest.approx(b.probabilities, abs=1e-6)
    # The same file as a path and as bytes decodes the same.
    assert predictions[0].probabilities == pytest.approx(predictions[3].probabilities, abs=1e-6)
    assert predictions[3].source == "<bytes>"


def test_bad_inputs_name_the_file_and_the_rest_go_on(recognizer, tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    no_frames = write_audio(tmp_path / "no-frames.wav", np.zeros(0, dtype=np.float32))
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage" * 10)
    good = write_audio(tmp_path / "good.wav", emotion_signal("sad", 0.8))
    nan = emotion_signal("sad", 0.5)
    nan[100] = np.nan

    with pytest.raises(AudioDecodeError, match="corrupt.wav") as raised:
        recognizer(corrupt)
    assert raised.value.reason == "corrupt"
    with pytest.raises(AudioDecodeError, match="NaN"):
        recognizer(nan, sampling_rate=16_000)
    with pytest.raises(AudioDecodeError, match="sampling_rate"):
        recognizer(nan)

    results = recognizer(
        [empty, str(good), no_frames, corrupt, tmp_path / "missing.wav", b"", nan],
        sampling_rate=16_000,
        errors="return",
    )
    reasons = [r.reason if isinstance(r, AudioDecodeError) else r.label for r in results]
    assert reasons[0] == "empty" and reasons[1] in LABELS and reasons[2] == "empty"
    assert reasons[3:] == ["corrupt", "missing", "empty", "non_finite"]
    assert str(results[0]).startswith(str(empty))


def test_silent_clip_is_marked_not_guessed(recognizer):
    quiet = np.full(16_000, 1e-5, dtype=np.float32)
    prediction = recognizer(quiet, sampling_rate=16_000)
    assert prediction.silent and prediction.label is None and prediction.probabilities == {}
    assert prediction.to_dict()["valence"] is None


# ---------------------------------------------------------------------- long recordings


def test_ten_minutes_streams_in_bounded_memory(fast_recognizer, tmp_path, monkeypatch):
    one_minute = write_long_file(tmp_path / "one-minute.wav", 60.0)
    ten_minutes = write_long_file(tmp_path / "ten-minutes.wav", 600.0)
    prediction = fast_recognizer(ten_minutes, window=10.0, hop=10.0, batch_size=16)
    assert len(prediction.timeline) == window_count(600.0, 10.0, 10.0) == 60

    # Memory of decoding, resampling, windowing and feature extraction (numpy, which tracemalloc
    # sees), with the network stubbed out: tracemalloc slows torch's Python side tenfold.
    def stub_model(input_values, attention_mask=None):
        batch = input_values.shape[0]
        return SimpleNamespace(logits=torch.zeros(batch, len(LABELS)), valence_arousal=torch.zeros(batch, 2))

    def traced_peak(path):
        tracemalloc.start()
        try:
            fast_recognizer(path, window=6.0, hop=6.0, batch_size=4)  # fewer, cheaper traced calls
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    monkeypatch.setattr(fast_recognizer.scorer, "model", stub_model)
    peak_one_minute, peak = traced_peak(one_minute), traced_peak(ten_minutes)
    whole_signal_bytes = 600 * 16_000 * 4
    # Bounded by the window batch, not by the file: ten times the audio, the same peak.
    assert peak < whole_signal_bytes / 3, f"peak {peak / 1e6:.1f} MB while streaming a 38 MB signal"
    assert peak < 1.2 * peak_one_minute + 0.5e6, (peak, peak_one_minute)

    starts = [w.start for w in prediction.timeline]
    assert starts == pytest.approx([10.0 * i for i in range(60)])
    assert prediction.end == pytest.approx(600.0, abs=0.01)
    assert prediction.timeline[-1].end == pytest.approx(600.0, abs=0.01)
    # The summary is the mean of the windows.
    mean = np.mean([[w.probabilities[k] for k in LABELS] for w in prediction.timeline], axis=0)
    np.testing.assert_allclose([prediction.probabilities[k] for k in LABELS], mean, atol=1e-6)
    assert prediction.label == LABELS[int(np.argmax(mean))]
    assert prediction.to_dict()["timeline"][0]["end"] == pytest.approx(10.0)


def test_overlapping_windows_and_short_input_with_window(fast_recognizer, tmp_path):
    recognizer = fast_recognizer
    path = write_audio(tmp_path / "ten.wav", emotion_signal("happy", 10.0))
    prediction = recognizer(path, window=3.0, hop=1.5)
    assert len(prediction.timeline) == window_count(10.0, 3.0, 1.5) == 6
    assert prediction.timeline[-1].start == pytest.approx(7.5) and prediction.timeline[
        -1
    ].end == pytest.approx(10.0)
    # The same signal as an array windows the same way.
    from_array = recognizer(emotion_signal("happy", 10.0), sampling_rate=16_000, window=3.0, hop=1.5)
    assert [w.label for w in from_array.timeline] == [w.label for w in prediction.timeline]
    # A clip shorter than the window is one window.
    assert len(recognizer(emotion_signal("sad", 1.0), sampling_rate=16_000, window=3.0).timeline) == 1


def test_whisper_input_over_30_seconds_is_windowed(whisper_recognizer):
    prediction = whisper_recognizer(emotion_signal("calm", 40.0), sampling_rate=16_000)
    assert prediction.timeline is not None
    assert len(prediction.timeline) == window_count(40.0, 3.0, 1.5)
    with pytest.raises(ValueError, match="longer than this model takes"):
        whisper_recognizer(emotion_signal("calm", 1.0), sampling_rate=16_000, window=45.0)


def test_an_hour_of_silence_is_all_silent_and_fast(fast_recognizer, tmp_path, monkeypatch):
    recognizer = fast_recognizer
    path = tmp_path / "hour.flac"
    with sf.SoundFile(path, "w", samplerate=8_000, channels=2, subtype="PCM_16") as handle:
        for _ in range(60):
            handle.write(np.zeros((8_000 * 60, 2), dtype=np.float32))

    def no_model(*args, **kwargs):
        raise AssertionError("the model must not run on silent windows")

    monkeypatch.setattr(recognizer.scorer, "run", no_model)
    began = time.perf_counter()
    prediction = recognizer(path)
    elapsed = time.perf_counter() - began
    assert prediction.silent and prediction.label is None
    assert len(prediction.timeline) == window_count(3600.0, 3.0, 1.5)
    assert all(w.silent and w.label is None for w in prediction.timeline)
    assert elapsed < 30.0, f"an hour of silence took {elapsed:.1f} s"


# ---------------------------------------------------------------------- ensembles


def _vectors(prediction: EmotionPrediction) -> np.ndarray:
    return np.array([prediction.probabilities[k] for k in LABELS] + [prediction.valence, prediction.arousal])


def test_ensemble_is_the_weighted_mean_of_its_members(wav2vec2_model_dir, whisper_model_dir, tmp_path):
    """Two backbones (wav2vec2 and Whisper) averaged: clips in one batch, windows, files, weights."""
    members = [EmotionRecognizer.from_pretrained(d) for d in (wav2vec2_model_dir, whisper_model_dir)]
    ensemble = EmotionRecognizer.from_pretrained([wav2vec2_model_dir, whisper_model_dir])
    assert isinstance(ensemble.scorer, MeanScorer) and len(ensemble.scorer.members) == 2
    assert ensemble.labels == LABELS and ensemble.max_clip_seconds == 30.0
    clips = [
        emotion_signal(e, s, seed=i) for i, (e, s) in enumerate(zip(EMOTIONS, [0.6, 1.9, 1.2], strict=False))
    ]
    averaged = ensemble(clips, sampling_rate=16_000, batch_size=3)
    alone = [member(clips, sampling_rate=16_000, batch_size=3) for member in members]
    for index, prediction in enumerate(averaged):
        first, second = _vectors(alone[0][index]), _vectors(alone[1][index])
        np.testing.assert_allclose(_vectors(prediction), (first + second) / 2, atol=1e-5)
        assert prediction.label == max(prediction.probabilities, key=prediction.probabilities.get)
    # The members disagree, so the mean is not either of them: the check above is not vacuous.
    assert np.abs(_vectors(alone[0][0]) - _vectors(alone[1][0])).max() > 0.05

    # Windows: each window, and the recording's summary, is the mean of the members' windows.
    path = write_audio(
        tmp_path / "six.wav", np.concatenate([emotion_signal("happy", 3.0), emotion_signal("sad", 3.0)])
    )
    windowed = ensemble(path, window=2.0, hop=1.0)
    member_windows = [member(path, window=2.0, hop=1.0) for member in members]
    assert len(windowed.timeline) == window_count(6.0, 2.0, 1.0)
    for position, window in enumerate(windowed.timeline):
        expected = sum(_vectors(m.timeline[position]) for m in member_windows) / 2
        np.testing.assert_allclose(_vectors(window), expected, atol=1e-5)
    np.testing.assert_allclose(_vectors(windowed), sum(_vectors(m) for m in member_windows) / 2, atol=1e-5)

    # Weights are normalised; all the weight on one member gives that member's answer.
    only_whisper = EnsembleRecognizer(members, weights=[0, 3])
    np.testing.assert_allclose(
        _vectors(only_whisper(clips[1], sampling_rate=16_000)), _vectors(alone[1][1]), atol=1e-5
    )
    # Silence never reaches a member, as for a single model.
    assert ensemble(np.zeros(16_000), sampling_rate=16_000).silent


def test_ensemble_refuses_models_that_cannot_be_averaged(tiny_wav2vec2_dir, wav2vec2_model_dir, tmp_path):
    reordered = make_emotion_model_dir(tiny_wav2vec2_dir, tmp_path / "reordered", labels=LABELS[::-1])
    one = EmotionRecognizer.from_pretrained(wav2vec2_model_dir)
    with pytest.raises(ValueError, match="model 2 of the ensemble has labels"):
        EmotionRecognizer.from_pretrained([wav2vec2_model_dir, reordered])
    with pytest.raises(ValueError, match="at least two models"):
        EnsembleRecognizer([one])
    with pytest.raises(ValueError, match="weights must be 2 non-negative numbers"):
        EnsembleRecognizer([one, one], weights=[1, -1])
    with pytest.raises(ValueError, match="weights must be 2"):
        EnsembleRecognizer([one, one], weights=[1])
    # A list of one is that model, not an ensemble.
    assert type(EmotionRecognizer.from_pretrained([wav2vec2_model_dir]).scorer) is TorchScorer
