"""The demo's "Calibrate with your voice": a real Gradio server driven with gradio_client, on a tiny random
model to which `hf-emotion adapt` added a speaker-adaptive head, with synthetic voices written to WAV."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gradio")
pytest.importorskip("gradio_client")

from gradio_client import Client, handle_file  # noqa: E402
from packaging.requirements import Requirement  # noqa: E402
from packaging.utils import canonicalize_name  # noqa: E402

from hf_emotion.app import calibration as demo_calibration  # noqa: E402
from hf_emotion.app import demo as demo_app  # noqa: E402
from hf_emotion.data.labels import EMOTIONS  # noqa: E402
from hf_emotion.hub.space import SPACE_REQUIREMENTS, write_space  # noqa: E402
from hf_emotion.serving import speaker_adaptive  # noqa: E402
from hf_emotion.serving.recognizer import EmotionRecognizer  # noqa: E402
from tests.app.test_demo import free_port  # noqa: E402
from tests.serving.test_inference import make_emotion_model_dir  # noqa: E402
from tests.synth import emotion_signal, write_audio  # noqa: E402

REPOSITORY = Path(__file__).resolve().parents[2]
#: One synthetic voice: a lower pitch than any training actor's, six moods, clips of different lengths
#: (so the demo's one-clip encoder pass and the recognizer's padded batch really differ).
VOICE_SHIFT = 0.8
MOODS = ("neutral", "happy", "sad", "angry", "fearful", "calm")


def voice_clip(folder: Path, emotion: str, seconds: float, seed: int) -> Path:
    samples = emotion_signal(emotion, seconds, speaker_shift=VOICE_SHIFT, seed=seed)
    return write_audio(folder / f"my-{emotion}-{seed}.wav", samples)


@pytest.fixture(scope="module")
def voice(tmp_path_factory) -> tuple[list[Path], Path]:
    """Six calibration clips of one voice and a new clip of it to recognize."""
    folder = tmp_path_factory.mktemp("voice")
    calibration = [voice_clip(folder, e, 1.0 + 0.2 * i, seed=i) for i, e in enumerate(MOODS)]
    return calibration, voice_clip(folder, "surprised", 1.3, seed=99)


def launch(recognizer: EmotionRecognizer, tmp_path_factory, *, max_seconds: float = 60.0):
    """The demo served on localhost: longer recordings than calibrated mode judges are let through."""
    demo = demo_app.build_demo(
        recognizer, examples_dir=tmp_path_factory.mktemp("examples"), max_seconds=max_seconds, max_mb=1.0
    )
    port = free_port()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    return demo, f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="module")
def recognizer(adapted_model) -> EmotionRecognizer:
    return EmotionRecognizer.from_pretrained(adapted_model)


@pytest.fixture(scope="module")
def server(recognizer, tmp_path_factory):
    demo, url = launch(recognizer, tmp_path_factory)
    yield url
    demo.close()


def calibrate(client: Client, clips) -> tuple[str, str]:
    return client.predict([handle_file(str(c)) for c in clips], api_name="/calibrate")


def recognize(client: Client, clip: Path, *cut: str) -> tuple[dict[str, float], dict]:
    label, _, _, numbers = client.predict(handle_file(str(clip)), *cut, api_name="/predict")
    return {c["label"]: c["confidence"] for c in label["confidences"]}, numbers


def test_calibrated_predictions_are_the_recognizers_for_the_clip_among_the_calibration_clips(
    server, recognizer, voice
):
    calibration, new = voice
    client = Client(server, verbose=False)
    status, mode = calibrate(client, calibration)
    assert status.startswith("Calibrated to your voice with 6 clips (my-neutral-0.wav, ")
    assert "expect noisy answers" in status  # fewer than the 10 clips recommended
    assert "calibrated to your voice" in mode and "misleads when the calibration clips all carry" in mode

    encoded_rows = []
    hook = recognizer.scorer.model.encoder.register_forward_pre_hook(
        lambda module, args, kwargs: encoded_rows.append(len(next(iter([*args, *kwargs.values()])))),
        with_kwargs=True,
    )
    try:
        confidences, numbers = recognize(client, new)
    finally:
        hook.remove()
    assert encoded_rows == [1]  # only the new clip: the calibration clips' encoder pass is kept

    assert numbers["mode"] == "speaker_adaptive" and numbers["calibration_clips"] == 6
    assert numbers["valence"] is None and numbers["arousal"] is None
    expected = recognizer([*map(str, calibration), str(new)], speaker="me")[-1]
    assert expected.mode == "speaker_adaptive"
    assert set(confidences) == set(EMOTIONS)
    for emotion in EMOTIONS:
        assert confidences[emotion] == pytest.approx(expected.probabilities[emotion], abs=1e-4)
    assert numbers["label"] == expected.label
    clip_by_clip = recognizer(str(new)).probabilities
    assert max(abs(confidences[e] - clip_by_clip[e]) for e in EMOTIONS) > 1e-3  # calibration changed it


def test_forget_my_voice_returns_to_clip_by_clip(server, recognizer, voice):
    calibration, new = voice
    client = Client(server, verbose=False)
    calibrate(client, calibration)
    _, numbers = recognize(client, new)
    assert numbers["mode"] == "speaker_adaptive"
    _, status, mode = client.predict(api_name="/forget_voice")
    assert "Forgot your voice" in status and mode.startswith("**Mode: clip by clip.**")
    confidences, numbers = recognize(client, new)
    assert numbers["mode"] == "clip" and numbers["calibration_clips"] == 0
    assert numbers["valence"] is not None
    clip_by_clip = recognizer(str(new))
    for emotion in EMOTIONS:
        assert confidences[emotion] == pytest.approx(clip_by_clip.probabilities[emotion], abs=1e-4)


def test_two_visitors_do_not_share_a_calibration(server, voice):
    calibration, new = voice
    mine, theirs = Client(server, verbose=False), Client(server, verbose=False)
    calibrate(mine, calibration)
    assert recognize(theirs, new)[1]["mode"] == "clip"
    assert recognize(mine, new)[1]["mode"] == "speaker_adaptive"
    calibrate(theirs, calibration[:4])
    assert recognize(theirs, new)[1]["calibration_clips"] == 4
    assert recognize(mine, new)[1]["calibration_clips"] == 6


def test_microphone_recordings_added_one_by_one_calibrate_too(server, voice):
    calibration, new = voice
    client = Client(server, verbose=False)
    for count, clip in enumerate(calibration[:4], start=1):
        _, status = client.predict(handle_file(str(clip)), api_name="/add_recording")
        assert status.startswith(f"{count} recordings added")
    status, _ = client.predict(None, api_name="/calibrate")
    assert status.startswith("Calibrated to your voice with 4 clips")
    assert recognize(client, new)[1]["calibration_clips"] == 4


def test_bad_calibration_clips_get_one_line_naming_the_file_and_change_nothing(server, voice, tmp_path):
    calibration, new = voice
    client = Client(server, verbose=False)
    with pytest.raises(Exception, match="3 clips given; calibration needs at least 4 clips of your voice"):
        calibrate(client, calibration[:3])
    corrupt = tmp_path / "my-third-take.wav"
    corrupt.write_bytes(b"RIFF1234WAVEfmt nonsense")
    with pytest.raises(Exception, match=r"Cannot read this audio \(my-third-take.wav\)") as raised:
        calibrate(client, [*calibration[:4], corrupt])
    assert "/tmp/" not in str(raised.value)
    story = write_audio(tmp_path / "long-story.wav", emotion_signal("sad", 25.0, speaker_shift=VOICE_SHIFT))
    with pytest.raises(Exception, match="long-story.wav is 25 s long; calibration clips are up to 20 s"):
        calibrate(client, [*calibration[:4], story])
    hush = write_audio(tmp_path / "hush.wav", np.zeros(16_000, np.float32))
    with pytest.raises(Exception, match="hush.wav is silent; record a sentence"):
        calibrate(client, [*calibration[:4], hush])
    assert recognize(client, new)[1]["mode"] == "clip"  # no calibration was kept


def test_calibrated_mode_judges_whole_clips_up_to_its_limit(server, voice, tmp_path):
    calibration, _ = voice
    client = Client(server, verbose=False)
    calibrate(client, calibration)
    with pytest.raises(Exception, match="judges the whole clip"):
        recognize(client, calibration[0], "speech segments (Silero VAD)")
    long = write_audio(tmp_path / "long.wav", emotion_signal("happy", 21.0, speaker_shift=VOICE_SHIFT))
    with pytest.raises(Exception, match="judges clips up to 20 s"):
        recognize(client, long)
    silent = write_audio(tmp_path / "silent.wav", np.zeros(16_000, np.float32))
    label, _, _, numbers = client.predict(handle_file(str(silent)), api_name="/predict")
    assert numbers["silent"] is True and numbers["label"] is None and "silence" in label["label"]


def test_a_model_without_a_head_shows_visitors_no_calibration_section(tiny_whisper_dir, tmp_path_factory):
    """Visitors cannot add a head: the page leaves the section out, and with it the maintainer's command."""
    model_dir = make_emotion_model_dir(tiny_whisper_dir, tmp_path_factory.mktemp("no-head"))
    demo, url = launch(EmotionRecognizer.from_pretrained(model_dir), tmp_path_factory)
    try:
        with urllib.request.urlopen(url + "config", timeout=30) as response:
            config = json.load(response)
        endpoints = Client(url, verbose=False).view_api(print_info=False, return_format="dict")
    finally:
        demo.close()
    ids = {c.get("props", {}).get("elem_id") for c in config["components"]}
    assert not {"calibration", "calibration-notice", "calibrate", "mode"} & ids
    assert "hf-emotion adapt" not in json.dumps(config) and "Calibrat" not in json.dumps(config)
    assert set(endpoints["named_endpoints"]) == {"/predict"}


def test_an_ensemble_shows_no_calibration_section(adapted_model):
    ensemble = EmotionRecognizer.from_pretrained([adapted_model, adapted_model])
    demo = demo_app.build_demo(ensemble)
    ids = {getattr(b, "elem_id", None) for b in demo.blocks.values()}
    assert "calibration" not in ids and "calibrate" not in ids
    alone = demo_app.build_demo(EmotionRecognizer.from_pretrained(adapted_model))
    assert "calibration" in {
        getattr(b, "elem_id", None) for b in alone.blocks.values()
    }  # a head: it is there


def test_calibration_clips_are_cut_where_the_speaker_adaptive_encoder_pass_cuts_them():
    assert demo_calibration.MAX_CLIP_SECONDS == speaker_adaptive.DEFAULT_MAX_SECONDS


def test_the_space_requirements_cover_what_calibration_imports(adapted_model, voice):
    """A Space installs SPACE_REQUIREMENTS only: calibrating and predicting with a head must import nothing else
    (the head's module needs scikit-learn)."""
    from tests.hub.test_space import imported_names, requirement_closure

    calibration, new = voice
    script = (
        "import sys, json\n"
        "from hf_emotion.app.demo import build_demo, load_recognizer, predict\n"
        "from hf_emotion.app.calibration import calibrate_voice\n"
        f"recognizer = load_recognizer({str(adapted_model)!r})\n"
        "build_demo(recognizer)\n"
        "adaptive = recognizer.speaker_adaptive()\n"
        f"voice = calibrate_voice(adaptive, {[str(c) for c in calibration]!r}, max_mb=5, silence_threshold_db=-60)\n"
        f"predict(recognizer, {str(new)!r}, max_seconds=60, max_mb=5, calibration=voice, adaptive=adaptive)\n"
        "print(json.dumps([m.__file__ for n, m in sys.modules.items() if n.startswith('hf_emotion')]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPOSITORY, check=True,
        env={**os.environ, "PYTHONPATH": str(REPOSITORY)},
    )  # fmt: skip
    files = json.loads(done.stdout.strip().splitlines()[-1])
    assert any(f.endswith("speaker_adaptive.py") for f in files)
    from importlib.metadata import packages_distributions

    owners = packages_distributions()
    names = {name for file in files for name in imported_names(Path(file))}
    needed = {canonicalize_name(d) for name in names for d in owners.get(name, []) if d != "hf-emotion"}
    assert "scikit-learn" in needed
    provided = requirement_closure([Requirement(r).name for r in SPACE_REQUIREMENTS])
    assert needed - provided == set()


def test_a_space_of_a_model_with_a_head_carries_the_head_and_what_it_needs(adapted_model, tmp_path):
    out = write_space(adapted_model, tmp_path / "space", sdk_version="5.9.1")
    assert (out / "model" / speaker_adaptive.HEAD_FILE).is_file()
    lines = (out / "requirements.txt").read_text().splitlines()
    assert any(Requirement(line).name == "scikit-learn" for line in lines if not line.startswith("-"))
    assert "/calibrate" in (out / "README.md").read_text()
