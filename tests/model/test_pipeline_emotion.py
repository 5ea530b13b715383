"""`transformers.pipeline(...)` on a saved emotion model runs the pipeline saved with it and answers as
`EmotionRecognizer` does, for Whisper and wav2vec2 backbones (tiny random models, synthetic audio, arrays)."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from transformers import pipeline

from hf_emotion.data.audio import AudioDecodeError
from hf_emotion.serving.recognizer import EmotionRecognizer
from tests.serving.test_inference import make_emotion_model_dir
from tests.synth import emotion_signal, write_audio

TOLERANCE = 1e-4


@pytest.fixture(scope="module", params=["whisper", "wav2vec2"])
def model_dir(request, tmp_path_factory) -> Path:
    encoder_dir = request.getfixturevalue(f"tiny_{request.param}_dir")
    return make_emotion_model_dir(encoder_dir, tmp_path_factory.mktemp(f"pipeline-{request.param}"))


@pytest.fixture(scope="module")
def recognizer(model_dir) -> EmotionRecognizer:
    return EmotionRecognizer.from_pretrained(model_dir)


def assert_same_prediction(got: dict, want: dict) -> None:
    assert got["label"] == want["label"]
    assert got["probabilities"].keys() == want["probabilities"].keys()
    for label, probability in want["probabilities"].items():
        assert abs(got["probabilities"][label] - probability) < TOLERANCE, label
    for name in ("valence", "arousal"):
        assert abs(got[name] - want[name]) < TOLERANCE, name
    assert (got["start"], got["end"], got["silent"]) == (want["start"], want["end"], want["silent"])


def test_saved_model_registers_its_pipeline_for_the_audio_classification_task(model_dir):
    config = json.loads((model_dir / "config.json").read_text())
    assert config["custom_pipelines"]["audio-classification"]["impl"] == (
        "pipeline_emotion.EmotionAudioClassificationPipeline"
    )
    assert (model_dir / "pipeline_emotion.py").is_file()
    for code in model_dir.glob("*.py"):  # the remote code must load without hf_emotion installed
        imported = [
            node.module if isinstance(node, ast.ImportFrom) else alias.name
            for node in ast.walk(ast.parse(code.read_text()))
            if isinstance(node, (ast.Import, ast.ImportFrom))
            for alias in node.names
        ]
        assert not [name for name in imported if name and name.split(".")[0] == "hf_emotion"], code.name


@pytest.mark.parametrize("task", [None, "audio-classification"])
def test_pipeline_gives_the_recognizers_probabilities_at_any_sampling_rate(model_dir, recognizer, task):
    clip = emotion_signal("sad", 1.3, 22_050, seed=1)
    want = recognizer(clip, sampling_rate=22_050).to_dict()
    classifier = pipeline(task, model=str(model_dir), trust_remote_code=True)
    assert type(classifier).__name__ == "EmotionAudioClassificationPipeline"
    assert type(classifier).__module__.startswith("transformers_modules")

    assert_same_prediction(classifier(clip, sampling_rate=22_050, details=True), want)
    ranked = classifier({"array": clip, "sampling_rate": 22_050})
    assert [entry["label"] for entry in ranked] == sorted(
        want["probabilities"], key=want["probabilities"].get, reverse=True
    )
    for entry in ranked:
        assert abs(entry["score"] - want["probabilities"][entry["label"]]) < TOLERANCE
    assert len(classifier(clip, sampling_rate=22_050, top_k=3)) == 3


def test_long_input_is_scored_in_windows_as_the_recognizer_does(model_dir, recognizer):
    # 31 s: over Whisper's 30 s, so both window it by default (3-s windows every 1.5 s, a shorter last one)
    long = np.concatenate(
        [
            emotion_signal(name, 7.75, 16_000, seed=i)
            for i, name in enumerate(["sad", "angry", "happy", "calm"])
        ]
    )
    long[16_000 * 9 : 16_000 * 13] = 0.0  # silent windows are left out of the mean, in both
    want = recognizer(long, sampling_rate=16_000).to_dict()
    got = pipeline(model=str(model_dir), trust_remote_code=True)(long, details=True)
    assert_same_prediction(got, want)
    assert len(got["timeline"]) == len(want["timeline"]) == 20
    assert sum(window["silent"] for window in got["timeline"]) == 1
    for got_window, want_window in zip(got["timeline"], want["timeline"], strict=True):
        if want_window["silent"]:
            assert got_window["silent"] and got_window["label"] is None
        else:
            assert_same_prediction(got_window, want_window)


def test_windows_chosen_when_the_pipeline_is_built_apply_to_every_call(model_dir, recognizer):
    clip = emotion_signal("angry", 5.0, 16_000, seed=2)
    want = recognizer(clip, sampling_rate=16_000, window=2.0, hop=1.0).to_dict()
    classifier = pipeline(model=str(model_dir), trust_remote_code=True, window=2.0, hop=1.0, batch_size=2)
    got = classifier(clip, details=True)
    assert [(w["start"], w["end"]) for w in got["timeline"]] == [
        (w["start"], w["end"]) for w in want["timeline"]
    ]
    assert_same_prediction(got, want)


def test_silent_clip_gets_no_label(model_dir):
    classifier = pipeline(model=str(model_dir), trust_remote_code=True)
    assert classifier(np.zeros(16_000, dtype=np.float32)) == []
    assert classifier(np.zeros(16_000, dtype=np.float32), details=True)["silent"] is True


def test_saved_pipeline_runs_where_hf_emotion_cannot_be_imported(model_dir, recognizer, tmp_path):
    clip = emotion_signal("happy", 0.9, 8_000, seed=3)
    np.save(tmp_path / "clip.npy", clip)
    want = recognizer(clip, sampling_rate=8_000).to_dict()
    script = textwrap.dedent(
        f"""
        import json, sys
        sys.modules["hf_emotion"] = None  # any import of it now fails
        import numpy as np
        from transformers import pipeline
        classifier = pipeline("audio-classification", model={str(model_dir)!r}, trust_remote_code=True)
        result = classifier({{"array": np.load("clip.npy"), "sampling_rate": 8000}}, details=True)
        print(json.dumps(result))
        """
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_MODULES_CACHE": str(tmp_path / "modules")}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert_same_prediction(json.loads(result.stdout.strip().splitlines()[-1]), want)


def test_pipeline_reads_files_and_stereo_int16_without_ffmpeg(model_dir, recognizer, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "")  # no ffmpeg to fall back on
    stereo = np.stack([emotion_signal("fearful", 1.1, 44_100, seed=4)] * 2, axis=1)
    path = write_audio(tmp_path / "clip.wav", stereo, 44_100, subtype="PCM_16")
    classifier = pipeline(model=str(model_dir), trust_remote_code=True)
    assert_same_prediction(classifier(str(path), details=True), recognizer(path).to_dict())
    assert_same_prediction(classifier(path, details=True), recognizer(path).to_dict())
    pcm = (stereo * 32767).astype(np.int16)
    want = recognizer(pcm, sampling_rate=44_100).to_dict()
    assert_same_prediction(classifier(pcm, sampling_rate=44_100, details=True), want)


@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_audio_holding_inf_or_nan_is_refused_as_the_recognizer_refuses_it(model_dir, recognizer, bad):
    clip = emotion_signal("sad", 0.8, 16_000, seed=5)
    clip[100:103] = bad
    classifier = pipeline("audio-classification", model=str(model_dir), trust_remote_code=True)
    with pytest.raises(ValueError, match="contains 3 NaN or infinite samples") as refused:
        classifier(clip, sampling_rate=16_000)  # not NaN scores (inf), not [] as if silent (NaN)
    with pytest.raises(ValueError, match="contains 3 NaN or infinite samples"):
        classifier({"array": clip, "sampling_rate": 16_000}, details=True)
    with pytest.raises(AudioDecodeError) as recognized:
        recognizer(clip, sampling_rate=16_000)
    assert str(refused.value).split(": ", 1)[1] == recognized.value.detail


@pytest.mark.parametrize(
    "rate, reason",
    [
        (0, "positive whole number"),  # was taken as "no rate given": scored as 16 kHz
        (16000.7, "positive whole number"),  # was truncated to 16000
        (-8000, "positive whole number"),
        (16, "below 4000 Hz no speech is left; did you pass the rate in kHz"),  # was 93 s of windows
        (3999, "below 4000 Hz"),
    ],
)
def test_a_sampling_rate_that_cannot_be_right_is_refused_as_the_recognizer_refuses_it(
    model_dir, recognizer, rate, reason
):
    clip = emotion_signal("angry", 0.05, 16_000, seed=6)
    classifier = pipeline("audio-classification", model=str(model_dir), trust_remote_code=True)
    expected = rf"^{re.escape(f'sampling_rate={rate!r}')}.*{reason}"
    with pytest.raises(ValueError, match=expected) as refused:
        classifier(clip, sampling_rate=rate)
    with pytest.raises(ValueError, match=expected):
        classifier({"array": clip, "sampling_rate": rate})
    with pytest.raises(AudioDecodeError) as recognized:
        recognizer(clip, sampling_rate=rate)
    assert str(refused.value) == recognized.value.detail
    assert classifier(clip, sampling_rate=4_000)  # the lowest rate that can hold speech is scored


def test_details_give_the_plain_answer_plus_valence_and_arousal(model_dir):
    classifier = pipeline(model=str(model_dir), trust_remote_code=True)
    clip = emotion_signal("happy", 1.1, 16_000, seed=5)
    for top_k in (None, 2):
        plain = classifier(clip, sampling_rate=16_000, top_k=top_k)
        detailed = classifier(clip, sampling_rate=16_000, top_k=top_k, details=True)
        assert detailed["labels"] == plain
        assert isinstance(detailed["valence"], float) and isinstance(detailed["arousal"], float)
    silent = classifier(np.zeros(16_000, dtype=np.float32), details=True)
    assert silent["labels"] == [] and silent["silent"] is True
