"""``hf-emotion predict``: JSON lines and CSV, windows, per-file errors and the exit status."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from hf_emotion.cli import main
from hf_emotion.data.labels import EMOTIONS
from tests.serving.test_inference import make_emotion_model_dir
from tests.synth import emotion_signal, write_audio


@pytest.fixture(scope="module")
def model_dir(tiny_wav2vec2_dir, tmp_path_factory):
    return make_emotion_model_dir(tiny_wav2vec2_dir, tmp_path_factory.mktemp("predict-model"))


@pytest.fixture()
def clips(tmp_path):
    good = [
        write_audio(tmp_path / f"{e}.wav", emotion_signal(e, 0.7, seed=i)) for i, e in enumerate(EMOTIONS[:3])
    ]
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF....WAVEnot really audio")
    return good, corrupt, tmp_path / "missing.wav"


def test_jsonl_with_bad_files_reports_each_and_exits_non_zero(model_dir, clips, tmp_path, capsys, caplog):
    good, corrupt, missing = clips
    out = tmp_path / "predictions.jsonl"
    files = [str(good[0]), str(corrupt), str(good[1]), str(missing), str(good[2])]
    status = main(["predict", *files, "--model", str(model_dir), "--output", str(out), "--batch_size", "2"])
    assert status == 1
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["file"] for r in records] == files  # input order kept, one record each
    errors = {r["file"]: r for r in records if "error" in r}
    assert errors[str(corrupt)]["error"] == "corrupt" and errors[str(missing)]["error"] == "missing"
    assert "not found" in errors[str(missing)]["detail"]
    for record in records:
        if "error" not in record:
            assert record["label"] in EMOTIONS and set(record["probabilities"]) == set(EMOTIONS)
            assert -1 <= record["valence"] <= 1 and -1 <= record["arousal"] <= 1
    assert "2 of 5 files could not be scored" in caplog.text
    assert "5/5" in capsys.readouterr().err  # the tqdm progress bar, on stderr


def test_csv_with_windows_has_a_summary_row_and_one_row_per_window(model_dir, tmp_path):
    long = write_audio(
        tmp_path / "long.wav", np.concatenate([emotion_signal("happy", 5.0), emotion_signal("sad", 5.0)])
    )
    out = tmp_path / "timeline.csv"
    status = main(
        [
            "predict",
            str(long),
            "--model",
            str(model_dir),
            "--output",
            str(out),
            "--window",
            "3",
            "--hop",
            "1.5",
        ]
    )
    assert status == 0
    rows = list(csv.DictReader(out.open()))
    assert [r["segment"] for r in rows] == ["all", "0", "1", "2", "3", "4", "5"]
    assert {f"prob_{e}" for e in EMOTIONS} <= set(rows[0])
    assert float(rows[-1]["start"]) == pytest.approx(7.5) and float(rows[-1]["end"]) == pytest.approx(10.0)
    assert all(r["label"] in EMOTIONS and r["error"] == "" for r in rows)


def test_stdout_folder_input_and_usage_errors(model_dir, clips, tmp_path, capsys, caplog, monkeypatch):
    good, corrupt, missing = clips
    assert main(["predict", str(good[0]), "--model", str(model_dir), "--format", "csv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("file,segment,start,end,label") and len(lines) == 2

    folder = tmp_path / "folder"
    write_audio(folder / "a" / "one.wav", emotion_signal("calm", 0.5))
    write_audio(folder / "two.flac", emotion_signal("calm", 0.5))
    assert main(["predict", str(folder), "--model", str(model_dir), "--no_progress"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 2

    monkeypatch.delenv("HF_EMOTION_MODEL", raising=False)
    assert main(["predict", str(good[0])]) == 2
    assert main(["predict", str(good[0]), "--model", str(tmp_path / "no-such-model")]) == 2
    assert main(["predict", str(good[0]), "--model", str(model_dir), "--window", "1", "--hop", "2"]) == 2
    assert "0 < hop <= window" in caplog.text


def test_several_models_are_averaged_and_dtype_is_used(
    model_dir, tiny_whisper_dir, clips, tmp_path, capsys, caplog, monkeypatch
):
    good, _, _ = clips
    whisper_dir = make_emotion_model_dir(tiny_whisper_dir, tmp_path / "whisper-model")

    def records(*args: str) -> list[dict]:
        assert main(["predict", *map(str, good), "--no_progress", *args]) == 0
        return [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    alone = [records("--model", str(d)) for d in (model_dir, whisper_dir)]
    together = records("--model", str(model_dir), "--model", str(whisper_dir))
    monkeypatch.setenv("HF_EMOTION_MODEL", f"{model_dir},{whisper_dir}")
    assert records() == together  # the same ensemble named in $HF_EMOTION_MODEL
    for first, second, both in zip(*alone, together, strict=True):
        for label in EMOTIONS:
            mean = (first["probabilities"][label] + second["probabilities"][label]) / 2
            assert both["probabilities"][label] == pytest.approx(mean, abs=1e-5)
        assert both["valence"] == pytest.approx((first["valence"] + second["valence"]) / 2, abs=1e-5)
    assert main(["predict", str(good[0]), "--model", str(model_dir), "--dtype", "float33"]) == 2
    assert "not a torch dtype" in caplog.text
