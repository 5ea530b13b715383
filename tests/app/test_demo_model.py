"""The demo explains its model: the "About this model" panel, examples of its test speakers with their credit,
no calibration section without a head; and the live stream's rolling window. A tiny model folder with a card
and a splits.json over a synthetic RAVDESS tree (``tests/app/carded_model.py``)."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gradio")

from hf_emotion.app import demo as demo_app  # noqa: E402
from hf_emotion.app.live import listen, mono_float  # noqa: E402
from hf_emotion.app.model_facts import NOT_FOR, facts_markdown, read_model_facts  # noqa: E402
from hf_emotion.corpora.corpus import Licence  # noqa: E402
from hf_emotion.data.labels import EMOTIONS  # noqa: E402
from hf_emotion.errors import ConfigurationError, MissingInputError  # noqa: E402
from hf_emotion.hub.example_picking import find_examples, may_share_clips, pick_clips  # noqa: E402
from hf_emotion.hub.examples import read_examples  # noqa: E402
from hf_emotion.hub.space import write_space  # noqa: E402
from hf_emotion.serving.recognizer import EmotionRecognizer  # noqa: E402
from tests.app.carded_model import FOLDS, FOLDS_UA, TEST, TEST_UA, UNSEEN_UA, make_carded_model  # noqa: E402
from tests.app.test_demo import free_port  # noqa: E402
from tests.synth import emotion_signal  # noqa: E402


@pytest.fixture(scope="module")
def carded_model(tiny_whisper_dir, ravdess_dir, tmp_path_factory) -> Path:
    return make_carded_model(tiny_whisper_dir, ravdess_dir, tmp_path_factory.mktemp("carded") / "model")


# ---------------------------------------------------------------------- examples


def test_examples_are_clips_of_the_test_speakers_only(carded_model):
    clips = find_examples(carded_model)
    assert 2 <= len(clips) <= 4
    assert {c.speaker for c in clips} == set(TEST)  # both test speakers, no training or validation one
    assert all(Path(c.path).parent.name in ("Actor_07", "Actor_08") for c in clips)
    assert len({c.emotion for c in clips}) == len(clips)  # one emotion each
    assert all(
        c.corpus == "RAVDESS" and "CC BY-NC-SA 4.0 (Livingstone & Russo 2018" in c.licence for c in clips
    )


def test_pick_clips_takes_test_speakers_in_turn_and_shows_distinct_emotions_first():
    rows = [
        {"path": f"{speaker}-{emotion}.wav", "emotion": emotion, "speaker": speaker}
        for speaker in ("s1", "s2", "train-1")
        for emotion in ("calm", "happy", "sad", "angry")
    ]
    picked = pick_clips(rows, ["s1", "s2"], 3)
    assert [(r["speaker"], r["emotion"]) for r in picked] == [("s1", "happy"), ("s2", "angry"), ("s1", "sad")]
    assert pick_clips(rows, [], 3) == []


def test_only_corpora_with_an_open_licence_lend_their_clips():
    assert may_share_clips(Licence("CC BY-NC-SA 4.0 (...)", "CC BY-NC-SA 4.0", "cc-by-nc-sa-4.0"))
    assert may_share_clips(Licence("CC BY-NC-ND 4.0 (...)", "CC BY-NC-ND 4.0"))
    assert may_share_clips(Licence("ODbL 1.0 (...)", "ODbL 1.0", "odbl"))
    assert not may_share_clips(Licence("USC SAIL release agreement", "USC SAIL release agreement"))


def test_examples_from_replaces_a_folder_the_run_recorded_but_this_machine_lacks(
    tiny_whisper_dir, ravdess_dir, tmp_path
):
    model = make_carded_model(tiny_whisper_dir, tmp_path / "gone", tmp_path / "model")
    assert find_examples(model) == []  # the recorded folder is not here: tones, not an error
    clips = find_examples(model, [str(ravdess_dir)])
    assert clips and {c.speaker for c in clips} <= set(TEST)
    with pytest.raises(MissingInputError, match="--examples_from .*nowhere: no such folder"):
        find_examples(model, [str(tmp_path / "nowhere")])
    with pytest.raises(ConfigurationError, match="2 folder\\(s\\) for the 1 corpora"):
        find_examples(model, [str(ravdess_dir), str(ravdess_dir)])


def test_a_model_that_held_out_no_speakers_gets_no_real_examples(tiny_whisper_dir, ravdess_dir, tmp_path):
    model = make_carded_model(tiny_whisper_dir, ravdess_dir, tmp_path / "final", protocol="all_speakers")
    assert find_examples(model) == []


# ---------------------------------------------------------------------- the panel


def test_model_panel_says_corpora_ua_on_unseen_speakers_and_corpora_and_the_licence(carded_model):
    facts = read_model_facts(carded_model, list(EMOTIONS))
    text = facts_markdown(facts)
    assert "**Trained on** RAVDESS: 4 speakers (2 more chose its checkpoint)" in text
    assert f"UA **{TEST_UA:.2f}** on its 2 test speakers; {FOLDS_UA:.2f} over {FOLDS} speaker folds" in text
    assert f"UA {UNSEEN_UA:.2f} on CREMA-D subset" in text
    assert "cc-by-nc-sa-4.0: **non-commercial use only**" in text
    assert NOT_FOR in text
    assert read_model_facts("someone/hub-model", list(EMOTIONS)) is None  # nothing local to read


def test_served_page_has_the_panel_and_test_speaker_examples_and_no_calibration(carded_model):
    demo = demo_app.build_demo_for(carded_model)
    port = free_port()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=30) as response:
            config = json.load(response)
    finally:
        demo.close()
    props = {c["props"].get("elem_id"): c["props"] for c in config["components"] if c["props"].get("elem_id")}
    assert "RAVDESS" in props["model-panel"]["value"] and "non-commercial" in props["model-panel"]["value"]
    assert "test speakers" in props["examples-credit"]["value"]
    assert "Livingstone & Russo 2018" in props["examples-credit"]["value"]
    labels = props["examples"]["sample_labels"]
    assert labels and all(label.split(", ")[-1] in TEST for label in labels)
    assert not {"calibration", "calibrate", "mode"} & set(props)  # no head: no section at all
    assert "hf-emotion adapt" not in json.dumps(config)  # no maintainer's command for visitors


def test_a_space_carries_test_speaker_clips_with_their_credit(carded_model, tmp_path):
    out = write_space(carded_model, tmp_path / "space", sdk_version="5.9.1")
    clips = read_examples(out / "examples")
    assert clips and {c.speaker for c in clips} <= set(TEST) and all(Path(c.path).is_file() for c in clips)
    assert "Livingstone & Russo 2018" in (out / "README.md").read_text()
    assert "examples_folder=HERE / 'examples'" in (out / "app.py").read_text()
    assert not (out / "model" / "run_identity.json").exists()  # it names the maintainer's data folders


# ---------------------------------------------------------------------- live


def test_live_scores_the_last_window_and_keeps_a_timeline(tiny_whisper_dir, carded_model):
    recognizer = EmotionRecognizer.from_pretrained(carded_model)
    rate, session = 48_000, None
    for second, emotion in enumerate(("happy", "happy", "sad", "sad", "angry")):
        chunk = (emotion_signal(emotion, 1.0, rate, seed=second) * 32767).astype(np.int16)
        session, prediction, latency = listen(recognizer, session, rate, chunk, window_seconds=3.0)
        assert prediction.label in EMOTIONS and latency > 0
    assert session.recent.shape == (3 * rate,) and session.heard == pytest.approx(5.0)
    assert [(p.start, p.end) for p in session.timeline][-2:] == [(1.0, 4.0), (2.0, 5.0)]
    assert len(session.timeline) == 5
    session, quiet, _ = listen(recognizer, None, rate, np.zeros(rate, np.int16))
    assert quiet.silent and len(session.timeline) == 1  # a new session; silence is marked, not guessed


def test_mono_float_reads_browser_chunks():
    stereo = np.array([[32767, -32767], [16384, 16384]], np.int16)
    assert mono_float(stereo) == pytest.approx(np.array([0.0, 0.5], np.float32), abs=1e-4)
    assert mono_float(np.ones(3, np.float64)).dtype == np.float32


def test_demo_command_names_a_missing_examples_folder_in_one_line(carded_model, tmp_path, capsys):
    from hf_emotion.cli import main

    code = main(["demo", "--model", str(carded_model), "--examples_from", str(tmp_path / "nowhere")])
    error = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and error[-1].startswith("error: --examples_from ") and "no such folder" in error[-1]
