"""``hf-emotion export`` writes into a new or empty ``--out`` only: never over a model folder."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hf_emotion.cli import main
from hf_emotion.errors import DEBUG_ENV
from tests.serving.test_inference import make_emotion_model_dir

REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def model_dir(tiny_wav2vec2_dir, tmp_path_factory) -> Path:
    folder = make_emotion_model_dir(tiny_wav2vec2_dir, tmp_path_factory.mktemp("export-model") / "model")
    (folder / "README.md").write_text("# the model's own card\n")
    return folder


def contents(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture()
def no_export(monkeypatch):
    """The refusal comes before the model is loaded: exporting at all fails the test."""
    from hf_emotion.serving import export

    def too_late(*args, **kwargs):
        raise AssertionError("--out should have been refused before the export began")

    monkeypatch.setattr(export, "export_onnx", too_late)


def test_export_into_the_model_folder_itself_is_refused_and_leaves_it_as_it_was(model_dir):
    before = contents(model_dir)
    env = {**os.environ, "PYTHONPATH": str(REPOSITORY), DEBUG_ENV: "0"}
    command = ["export", "--model", str(model_dir), "--out", str(model_dir)]
    done = subprocess.run(
        [sys.executable, "-m", "hf_emotion.cli", *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"error: --out {model_dir} is not empty (it is --model itself); give a new or empty folder"
    )
    assert "Traceback" not in done.stderr
    assert contents(model_dir) == before and not (model_dir / "model.onnx").exists()


def test_export_into_another_models_folder_is_refused(
    model_dir, tiny_wav2vec2_dir, tmp_path, capsys, no_export
):
    other = make_emotion_model_dir(tiny_wav2vec2_dir, tmp_path / "other", seed=4)
    before = contents(other)
    assert main(["export", "--model", str(model_dir), "--out", str(other)]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"error: --out {other} is not empty; give a new or empty folder"
    )
    assert contents(other) == before


def test_export_into_a_file_is_refused(model_dir, tmp_path, capsys, no_export):
    target = tmp_path / "model.onnx"
    target.write_bytes(b"x")
    assert main(["export", "--model", str(model_dir), "--out", str(target)]) == 2
    # The common output-folder check (preflight) says it before export's own check is reached.
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith(f"error: --out {target}: is a file")
