"""``hf-emotion predict --speaker`` / ``--per_recording``: speaker-adaptive rows that say their mode."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from hf_emotion.cli import main
from hf_emotion.data.labels import EMOTIONS
from tests.synth import emotion_signal, write_audio


def test_predict_speaker_scores_a_speakers_files_together_and_rows_say_the_mode(
    adapted_model, ravdess_dir, tmp_path
):
    files = [str(f) for f in sorted((ravdess_dir / "Actor_07").glob("*.wav"))[:6]]
    out = tmp_path / "me.jsonl"
    assert (
        main(["predict", *files, "--model", str(adapted_model), "--speaker", "me", "--output", str(out)]) == 0
    )
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["file"] for r in records] == files
    assert {r["mode"] for r in records} == {"speaker_adaptive"}
    assert set(records[0]["probabilities"]) == set(EMOTIONS)
    clip_out = tmp_path / "clip.csv"
    assert main(["predict", *files, "--model", str(adapted_model), "--output", str(clip_out)]) == 0
    with clip_out.open() as handle:
        assert {row["mode"] for row in csv.DictReader(handle)} == {"clip"}


def test_predict_per_recording_gives_a_summary_and_window_rows_in_speaker_adaptive_mode(
    adapted_model, tmp_path
):
    speech = [emotion_signal(e, 1.5, seed=i) for i, e in enumerate(("angry", "sad", "happy", "neutral"))]
    talk = write_audio(tmp_path / "talk.wav", np.concatenate(speech))
    out = tmp_path / "talk.csv"
    args = [
        "predict",
        str(talk),
        "--model",
        str(adapted_model),
        "--per_recording",
        "--window",
        "1",
        "--hop",
        "0.5",
    ]
    assert main([*args, "--output", str(out)]) == 0
    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    assert rows[0]["segment"] == "all" and len(rows) >= 5
    assert {row["mode"] for row in rows} == {"speaker_adaptive"}


def test_predict_speaker_without_a_head_or_with_too_few_files_is_a_usage_error(
    adapted_model, tiny_wav2vec2_dir, ravdess_dir, tmp_path, caplog
):
    from tests.serving.test_inference import make_emotion_model_dir

    bare = make_emotion_model_dir(tiny_wav2vec2_dir, tmp_path / "bare", labels=list(EMOTIONS))
    files = [str(f) for f in sorted((ravdess_dir / "Actor_07").glob("*.wav"))[:4]]
    assert main(["predict", *files, "--model", str(bare), "--speaker", "me"]) == 2
    assert "hf-emotion adapt" in caplog.text
    assert main(["predict", *files[:3], "--model", str(adapted_model), "--speaker", "me"]) == 2
    assert "at least 4 clips" in caplog.text


def test_predict_speaker_per_folder_standardises_each_folders_files_on_their_own(
    adapted_model, ravdess_dir, tmp_path
):
    def records(*args: str) -> dict[str, dict]:
        out = tmp_path / "out.jsonl"
        assert main(["predict", *args, "--model", str(adapted_model), "--output", str(out)]) == 0
        return {r["file"]: r for r in map(json.loads, out.read_text().splitlines())}

    seven, eight = (str(ravdess_dir / f"Actor_0{n}") for n in (7, 8))
    both = records(seven, eight, "--speaker_per_folder")
    alone = records(seven, "--speaker", "Actor_07")
    assert {r["mode"] for r in both.values()} == {"speaker_adaptive"} and len(both) == len(alone) + 15
    for name, record in alone.items():
        for label, probability in record["probabilities"].items():
            assert both[name]["probabilities"][label] == pytest.approx(probability, abs=1e-5)
