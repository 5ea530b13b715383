"""``segment="vad"``: utterances found by Silero VAD in a recording of real speech, silences and noise."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("silero_vad")

from hf_emotion.cli import main  # noqa: E402
from hf_emotion.data.audio import decode_audio  # noqa: E402
from hf_emotion.data.labels import EMOTIONS  # noqa: E402
from hf_emotion.data.vad import cut_spans  # noqa: E402
from hf_emotion.serving.recognizer import EmotionRecognizer  # noqa: E402
from hf_emotion.serving.windows import array_blocks  # noqa: E402
from tests.serving.test_inference import make_emotion_model_dir  # noqa: E402

RATE = 16_000
SENTENCES = [
    "Kids are talking by the door.",
    "Dogs are sitting by the door, waiting for their owner to come home.",
    "I can not believe you did that again!",
    "Please, leave me alone now.",
]
# What separates the sentences: (kind, seconds). Noise at -40 dBFS is audible but not speech.
GAPS = [("noise", 1.2), ("silence", 1.5), ("noise", 1.0), ("silence", 2.0), ("noise", 1.3)]
TOLERANCE_SECONDS = 0.3


def spoken(text: str, folder) -> np.ndarray:
    """espeak-ng's reading of ``text``, trimmed to the speech (its own leading/trailing silence cut)."""
    path = folder / f"{abs(hash(text))}.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(path), text], check=True)
    samples = decode_audio(path, RATE)
    loud = np.flatnonzero(np.abs(samples) > 0.01)
    return samples[loud[0] : loud[-1] + 1]


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    """Four spoken sentences between noise and silence: the file and each sentence's (start, end) seconds."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("needs espeak-ng for real speech (apt-get install espeak-ng)")
    folder = tmp_path_factory.mktemp("speech")
    rng = np.random.default_rng(0)
    parts, truth, position = [], [], 0
    for index, (kind, seconds) in enumerate(GAPS):
        gap = np.zeros(int(seconds * RATE), np.float32)
        if kind == "noise":
            gap = (0.01 * rng.standard_normal(gap.shape)).astype(np.float32)
        parts.append(gap)
        position += len(gap)
        if index < len(SENTENCES):
            speech = spoken(SENTENCES[index], folder)
            parts.append(speech)
            truth.append((position / RATE, (position + len(speech)) / RATE))
            position += len(speech)
    path = folder / "conversation.flac"
    sf.write(path, np.concatenate(parts), RATE, subtype="PCM_16")
    return path, truth


@pytest.fixture(scope="module")
def recognizer(tiny_whisper_dir, tmp_path_factory) -> EmotionRecognizer:
    return EmotionRecognizer.from_pretrained(
        make_emotion_model_dir(tiny_whisper_dir, tmp_path_factory.mktemp("vad-model")), segment="vad"
    )


def test_one_segment_per_sentence_with_boundaries_within_0_3_s(recognizer, recording):
    path, truth = recording
    prediction = recognizer(path)
    segments = prediction.timeline
    assert len(segments) == len(truth), [(s.start, s.end) for s in segments]
    for segment, (start, end) in zip(segments, truth, strict=True):
        assert abs(segment.start - start) <= TOLERANCE_SECONDS, (segment.start, start)
        assert abs(segment.end - end) <= TOLERANCE_SECONDS, (segment.end, end)
        assert not segment.silent and segment.label in EMOTIONS
    # The summary weighs each segment by its duration; silence and noise are not in it.
    weights = np.array([s.duration for s in segments])
    vectors = np.array([[s.probabilities[k] for k in EMOTIONS] + [s.valence, s.arousal] for s in segments])
    expected = weights @ vectors / weights.sum()
    got = [prediction.probabilities[k] for k in EMOTIONS] + [prediction.valence, prediction.arousal]
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert prediction.end == pytest.approx(sf.info(path).duration, abs=0.01)
    # Each segment is scored as a whole: the same answer as the segment's audio alone.
    audio = decode_audio(path, RATE)
    first = segments[1]
    alone = recognizer(
        audio[round(first.start * RATE) : round(first.end * RATE)], sampling_rate=RATE, segment="window"
    )
    assert alone.probabilities == pytest.approx(first.probabilities, abs=1e-4)


def test_silence_and_noise_alone_have_no_segments(recognizer):
    noise = (0.01 * np.random.default_rng(1).standard_normal(5 * RATE)).astype(np.float32)
    for audio in (np.zeros(5 * RATE, np.float32), noise):
        prediction = recognizer(audio, sampling_rate=RATE)
        assert prediction.silent and prediction.label is None and prediction.timeline == []


def test_cut_spans_across_block_edges():
    signal = np.arange(100, dtype=np.float32)
    spans = [(5, 12), (30, 31), (40, 95), (99, 120)]
    cut = list(cut_spans(array_blocks(signal, 7), spans))
    assert [start for start, _ in cut] == [5, 30, 40, 99]
    for (start, samples), (_, end) in zip(cut, spans, strict=True):
        np.testing.assert_array_equal(samples, signal[start:end])


def test_predict_segment_vad_prints_segments(recognizer, recording, tiny_whisper_dir, tmp_path, capsys):
    path, truth = recording
    model = make_emotion_model_dir(tiny_whisper_dir, tmp_path / "model")
    assert main(["predict", str(path), "--model", str(model), "--segment", "vad", "--no_progress"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert len(record["timeline"]) == len(truth)
    assert all(entry["label"] in EMOTIONS for entry in record["timeline"])


def test_finding_speech_keeps_the_callers_torch_threads():
    """silero_vad's import sets torch to one thread for the whole process; a training that found its clips'
    speech then fine-tuned on one core of two. A fresh process: the import must not have happened yet."""
    code = (
        "import numpy as np, torch\n"
        "torch.set_num_threads(2)\n"
        "from hf_emotion.data.vad import speech_spans\n"
        "speech_spans([np.zeros(16000, np.float32)], 16000)\n"
        "print('THREADS_AFTER', torch.get_num_threads())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[2])  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "THREADS_AFTER 2" in done.stdout
