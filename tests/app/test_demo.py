"""The Gradio demo served for real on localhost and called with gradio_client."""

from __future__ import annotations

import argparse
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gradio")
pytest.importorskip("gradio_client")

from gradio_client import Client, handle_file  # noqa: E402

from hf_emotion.app import demo as demo_app  # noqa: E402
from hf_emotion.commands import demo as demo_command  # noqa: E402
from hf_emotion.data.labels import EMOTIONS  # noqa: E402
from hf_emotion.serving.recognizer import EmotionRecognizer  # noqa: E402
from tests.serving.test_inference import make_emotion_model_dir  # noqa: E402
from tests.synth import emotion_signal, write_audio  # noqa: E402

MAX_TEST_SECONDS = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def app():
    """The demo app module, as ``hf-emotion demo``, ``demo/app.py`` and a Space's app.py use it."""
    return demo_app


@pytest.fixture(scope="module")
def demo_recognizer(tiny_whisper_dir, tmp_path_factory) -> EmotionRecognizer:
    model_dir = make_emotion_model_dir(tiny_whisper_dir, tmp_path_factory.mktemp("demo-model"))
    return EmotionRecognizer.from_pretrained(model_dir)


def launch(app, recognizer, tmp_path_factory):
    demo = app.build_demo(
        recognizer, examples_dir=tmp_path_factory.mktemp("examples"), max_seconds=MAX_TEST_SECONDS, max_mb=1.0
    )
    port = free_port()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    return demo, f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="module")
def server(app, demo_recognizer, tmp_path_factory):
    demo, url = launch(app, demo_recognizer, tmp_path_factory)
    yield url
    demo.close()


@pytest.fixture(scope="module")
def client(server) -> Client:
    return Client(server, verbose=False)


def test_upload_a_wav_and_get_label_and_numbers(client, tmp_path):
    wav = write_audio(tmp_path / "angry.wav", emotion_signal("angry", 2.0), 16_000)
    label, circumplex, timeline, numbers = client.predict(handle_file(str(wav)), api_name="/predict")
    assert label["label"] in EMOTIONS
    confidences = {c["label"]: c["confidence"] for c in label["confidences"]}
    assert set(confidences) == set(EMOTIONS) and sum(confidences.values()) == pytest.approx(1.0, abs=1e-4)
    assert numbers["label"] == label["label"] and numbers["confidence"] == pytest.approx(
        confidences[label["label"]]
    )
    assert -1 <= numbers["valence"] <= 1 and -1 <= numbers["arousal"] <= 1
    assert numbers["duration_s"] == pytest.approx(2.0) and numbers["windows"] == 0
    assert circumplex["type"] == "matplotlib" and circumplex["plot"].startswith("data:image/")


def test_long_recording_gets_a_timeline_with_silence_marked(client, tmp_path):
    signal = np.concatenate(
        [emotion_signal("happy", 6.0), np.zeros(3 * 16_000, np.float32), emotion_signal("sad", 3.0)]
    )
    wav = write_audio(tmp_path / "long.wav", signal, 16_000)
    _, _, timeline, numbers = client.predict(handle_file(str(wav)), api_name="/predict")
    assert numbers["windows"] == 7  # 12 s in 3 s windows every 1.5 s
    plot = timeline["value"] if "value" in timeline else timeline
    assert plot["type"] == "matplotlib"


def test_silence_and_limits_give_clear_messages(client, tmp_path):
    silent = write_audio(tmp_path / "silent.wav", np.zeros(16_000, np.float32), 16_000)
    label, _, _, numbers = client.predict(handle_file(str(silent)), api_name="/predict")
    assert numbers["silent"] is True and numbers["label"] is None
    assert "silence" in label["label"]

    too_long = write_audio(tmp_path / "too-long.wav", np.zeros(int(25 * 8_000), np.int16), 8_000)
    with pytest.raises(Exception, match="this demo takes up to"):
        client.predict(handle_file(str(too_long)), api_name="/predict")
    too_big = write_audio(
        tmp_path / "too-big.wav", np.zeros(int(10 * 48_000), np.float32), 48_000, subtype="FLOAT"
    )
    with pytest.raises(Exception, match="this demo takes files up to 1 MB"):
        client.predict(handle_file(str(too_big)), api_name="/predict")
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF1234WAVEfmt nonsense")
    with pytest.raises(Exception, match="Cannot read this audio"):
        client.predict(handle_file(str(corrupt)), api_name="/predict")


def test_a_decode_error_names_the_upload_not_the_servers_temp_path(client, tmp_path):
    """Gradio keeps uploads under /tmp/gradio/<hash>/: the message names the file the user chose."""
    corrupt = tmp_path / "my-recording.wav"
    corrupt.write_bytes(b"RIFF1234WAVEfmt nonsense")
    with pytest.raises(Exception) as raised:
        client.predict(handle_file(str(corrupt)), api_name="/predict")
    message = str(raised.value)
    assert "Cannot read this audio (my-recording.wav)" in message
    assert "/tmp/" not in message and "gradio/" not in message, message  # today's code showed both


def test_examples_figures_and_model_resolution(app, tmp_path, monkeypatch):
    paths = app.write_example_clips(tmp_path / "examples")
    assert [Path(p).name for p in paths] == ["low-calm-tone.wav", "high-excited-tone.wav", "changing-12s.wav"]
    assert all(Path(p).stat().st_size > 0 for p in paths)
    from hf_emotion.serving.default_model import DEFAULT_MODEL_DIR

    assert DEFAULT_MODEL_DIR == "outputs/whisper-tiny.en-ravdess-speech"
    monkeypatch.setenv("HF_EMOTION_MODEL", "someone/some-model")
    assert app.resolve_model() == "someone/some-model"
    assert app.resolve_model("x/y") == "x/y"
    monkeypatch.delenv("HF_EMOTION_MODEL")
    monkeypatch.chdir(tmp_path)
    assert app.resolve_model() == "outputs/whisper-tiny.en-ravdess-speech"  # named in the error
    (tmp_path / "model").mkdir()
    assert app.resolve_model() == "model"  # a model beside the app needs no variable
    with pytest.raises(FileNotFoundError, match="no model folder"):
        app.load_recognizer(tmp_path / "nothing-here")
    axes = app.circumplex_figure(None).axes[0]
    assert {t.get_text() for t in axes.texts} >= {"happy", "sad", "angry"}  # the anchor points


def test_hf_emotion_demo_command(demo_recognizer, monkeypatch, tmp_path):
    parser = argparse.ArgumentParser()
    demo_command.add_arguments(parser)
    args = parser.parse_args(["--model", str(tmp_path / "missing"), "--port", "7999", "--share"])
    assert (args.port, args.share) == (7999, True)
    assert demo_command.run(args) == 2  # a clear error, not a traceback

    launched = {}

    def fake_launch(self, **kwargs):
        launched.update(kwargs)

    import gradio as gr

    monkeypatch.setattr(gr.Blocks, "launch", fake_launch)
    monkeypatch.setattr(
        EmotionRecognizer, "from_pretrained", classmethod(lambda cls, *a, **k: demo_recognizer)
    )
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    args = parser.parse_args(["--model", str(model_dir), "--port", "7999"])
    assert demo_command.run(args) == 0
    assert launched["server_port"] == 7999 and launched["share"] is False


def test_an_ensemble_is_served_with_the_mean_of_its_models(tiny_whisper_dir, tmp_path_factory):
    """``hf-emotion demo --model A --model B``: the app loads both; the real server answers with their mean."""
    tmp = tmp_path_factory.mktemp("ensemble")
    models = [
        make_emotion_model_dir(tiny_whisper_dir, tmp / name, seed=seed) for name, seed in (("a", 1), ("b", 2))
    ]
    ensemble = demo_app.load_recognizer([str(m) for m in models])  # as `hf-emotion demo --model A --model B`
    assert [type(m).__name__ for m in ensemble.scorer.members] == ["TorchScorer"] * 2
    demo, url = launch(demo_app, ensemble, tmp_path_factory)
    try:
        wav = write_audio(tmp / "happy.wav", emotion_signal("happy", 1.5), 16_000)
        label, _, _, numbers = Client(url, verbose=False).predict(handle_file(str(wav)), api_name="/predict")
    finally:
        demo.close()
    alone = [EmotionRecognizer.from_pretrained(m)(str(wav)) for m in models]
    confidences = {c["label"]: c["confidence"] for c in label["confidences"]}
    for emotion in EMOTIONS:
        mean = (alone[0].probabilities[emotion] + alone[1].probabilities[emotion]) / 2
        assert confidences[emotion] == pytest.approx(mean, abs=1e-4)
    assert numbers["arousal"] == pytest.approx((alone[0].arousal + alone[1].arousal) / 2, abs=1e-4)
    assert abs(alone[0].arousal - alone[1].arousal) > 1e-3  # two different models: the mean is not vacuous


def test_speech_segments_choice_scores_each_utterance(client, tmp_path):
    """The VAD choice answers per utterance: espeak-ng sentences between silences give one timeline
    point each, and the numbers say which cut made them."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("needs espeak-ng for real speech (apt-get install espeak-ng)")
    pytest.importorskip("silero_vad")
    from tests.data.test_vad import spoken

    gap = np.zeros(16_000, np.float32)
    sentences = [
        spoken(text, tmp_path) for text in ("The kids are talking by the door.", "Dogs are sitting.")
    ]
    wav = write_audio(tmp_path / "two.wav", np.concatenate([gap, sentences[0], gap, gap, sentences[1], gap]))
    _, _, _, numbers = client.predict(
        handle_file(str(wav)), "speech segments (Silero VAD)", api_name="/predict"
    )
    assert numbers["segment"] == "vad" and numbers["windows"] == 2
    _, _, _, whole = client.predict(handle_file(str(wav)), api_name="/predict")
    assert whole["segment"] == "window"


def test_the_headline_is_the_timelines_mean_and_a_short_clip_has_no_timeline(app, demo_recognizer, tmp_path):
    recognizer, predict_for_demo, labels = demo_recognizer, app.predict, demo_recognizer.labels

    long = write_audio(
        tmp_path / "long.wav", np.concatenate([emotion_signal("happy", 4.0), emotion_signal("sad", 4.0)])
    )
    label, _, _, numbers = predict_for_demo(recognizer, str(long), max_seconds=30, max_mb=10)
    windows = recognizer(str(long), window=recognizer.window, hop=recognizer.hop).timeline
    mean = np.mean([[w.probabilities[name] for name in labels] for w in windows if not w.silent], axis=0)
    assert numbers["windows"] == len(windows) > 1
    assert numbers["label"] == labels[int(np.argmax(mean))]
    assert numbers["confidence"] == pytest.approx(float(mean.max()), abs=1e-5)

    short = write_audio(tmp_path / "short.wav", emotion_signal("angry", 3.8))  # under two 3-s windows
    _, _, timeline, numbers = predict_for_demo(recognizer, str(short), max_seconds=30, max_mb=10)
    whole = recognizer(str(short))
    assert numbers["windows"] == 0 and numbers["label"] == whole.label
    assert numbers["confidence"] == pytest.approx(whole.confidence, abs=1e-6)
