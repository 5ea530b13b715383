"""``hf-emotion space``: a Space folder that installs from PyPI alone and serves the model."""

from __future__ import annotations

import ast
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from importlib.metadata import distribution, packages_distributions
from pathlib import Path

import pytest
from huggingface_hub import SpaceCard
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from hf_emotion.cli import main as cli_main
from hf_emotion.hub.space import SPACE_PIP_OPTIONS, SPACE_REQUIREMENTS, write_space
from tests.fresh_venv import clean_env, fresh_venv, run_in
from tests.serving.test_inference import make_emotion_model_dir
from tests.synth import emotion_signal, write_audio

REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def model_dir(tiny_wav2vec2_dir, tmp_path_factory) -> Path:
    folder = make_emotion_model_dir(tiny_wav2vec2_dir, tmp_path_factory.mktemp("space-model") / "run")
    (folder / "training_args.bin").write_bytes(b"a pickle")  # what finetune.py leaves beside the model
    (folder / "checkpoint-10").mkdir()
    return folder


def read_requirements(path: Path) -> list[Requirement]:
    lines = [line.strip() for line in path.read_text().splitlines()]
    return [Requirement(line) for line in lines if line and not line.startswith(("#", "-"))]


def test_space_folder_holds_app_card_requirements_code_and_model(model_dir, tmp_path):
    out = write_space(model_dir, tmp_path / "space", sdk_version="5.9.1")
    card = SpaceCard.load(out / "README.md").data
    assert (card.sdk, card.sdk_version, card.app_file) == ("gradio", "5.9.1", "app.py")
    assert card.get("models") is None  # a copied model has no Hub id to link
    assert (out / "model" / "config.json").is_file() and (out / "model" / "model.safetensors").is_file()
    assert (
        not (out / "model" / "training_args.bin").exists() and not (out / "model" / "checkpoint-10").exists()
    )
    assert (out / "hf_emotion" / "app" / "demo.py").is_file() and not list(out.rglob("__pycache__"))
    requirements = read_requirements(out / "requirements.txt")
    assert {r.name for r in requirements} >= {"torch", "transformers", "gradio"}
    assert all(r.url is None for r in requirements)  # PyPI only: no files, no git URLs
    assert "HERE / 'model'" in (out / "app.py").read_text()


def test_a_hub_model_is_linked_in_the_card_not_copied(tmp_path):
    out = write_space("someone/emotion-model", tmp_path / "space", sdk_version="5.9.1")
    assert SpaceCard.load(out / "README.md").data.models == ["someone/emotion-model"]
    assert "MODEL = 'someone/emotion-model'" in (out / "app.py").read_text()
    assert not (out / "model").exists()


def test_demo_requirements_match_the_spaces(tmp_path):
    assert [str(r) for r in read_requirements(REPOSITORY / "demo" / "requirements.txt")] == [
        str(Requirement(r)) for r in SPACE_REQUIREMENTS
    ]
    lines = (REPOSITORY / "demo" / "requirements.txt").read_text().splitlines()
    assert [line for line in lines if line.startswith("-")] == list(SPACE_PIP_OPTIONS)


def test_the_space_takes_the_cpu_build_of_torch(model_dir, tmp_path):
    """PyPI's Linux torch is the CUDA build; a Space's CPU machine gets the CPU build from PyTorch's index, at a
    version the tests ran (2.13.0+cpu, which pip prefers over PyPI's 2.13.0 when both indexes have it)."""
    text = (write_space(model_dir, tmp_path / "space", sdk_version="5.9.1") / "requirements.txt").read_text()
    assert text.splitlines()[0] == "--extra-index-url https://download.pytorch.org/whl/cpu"
    (torch,) = [r for r in read_requirements(tmp_path / "space" / "requirements.txt") if r.name == "torch"]
    assert torch.specifier.contains("2.13.0+cpu") and not torch.specifier.contains("2.14.0")


def test_space_command_refuses_a_missing_model_or_a_full_folder(model_dir, tmp_path, capsys):
    not_a_model = tmp_path / "not-a-model"
    not_a_model.mkdir()
    assert cli_main(["space", "--model", str(not_a_model), "--out", str(tmp_path / "a")]) == 2
    missing = capsys.readouterr().err.strip()
    assert missing.startswith(f"error: --model {not_a_model}: ") and "config.json" in missing, missing
    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("x")
    assert cli_main(["space", "--model", str(model_dir), "--out", str(full)]) == 2
    assert capsys.readouterr().err.strip() == f"error: --out {full} is not empty; give a new or empty folder"
    assert (
        cli_main(
            ["space", "--model", str(model_dir), "--out", str(tmp_path / "ok"), "--sdk_version", "5.9.1"]
        )
        == 0
    )


def test_space_without_model_serves_the_general_model_first(model_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("HF_EMOTION_MODEL", raising=False)
    monkeypatch.chdir(tmp_path)
    assert cli_main(["space", "--out", "none"]) == 2  # no model trained: the error names where one belongs
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: --model outputs/whisper-tiny.en-ravdess-speech: "), error
    for name in ("whisper-tiny.en-ravdess-speech", "whisper-tiny.en-general"):
        shutil.copytree(model_dir, tmp_path / "outputs" / name)
    assert cli_main(["space", "--out", "space", "--sdk_version", "5.9.1"]) == 0
    assert "whisper-tiny.en-general" in (tmp_path / "space" / "README.md").read_text()
    assert "ravdess-speech" not in (tmp_path / "space" / "README.md").read_text()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_server(process: subprocess.Popen, url: str, seconds: float = 180) -> None:
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"app.py exited {process.returncode}:\n{process.stdout.read()[-3000:]}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(1)
    raise AssertionError(f"app.py did not serve {url} within {seconds} s")


@pytest.mark.slow
def test_space_installs_from_its_requirements_in_a_fresh_venv_and_serves(model_dir, tmp_path):
    """As a Space runs it: pip install -r requirements.txt, then python app.py, with no variable set."""
    from gradio_client import Client, handle_file

    out = write_space(model_dir, tmp_path / "space")
    python = fresh_venv(tmp_path / "venv")  # hf_emotion is not importable there (checked)
    run_in(python, "-m", "pip", "install", "-q", "-r", "requirements.txt", cwd=out)
    imported = run_in(python, "-c", "import hf_emotion; print(hf_emotion.__file__)", cwd=out).stdout
    assert Path(imported.strip()).is_relative_to(out)  # the copy beside app.py, not the checkout

    port = free_port()
    env = clean_env(
        GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port), GRADIO_ANALYTICS_ENABLED="False"
    )
    env.pop("HF_EMOTION_MODEL", None)
    process = subprocess.Popen(
        [str(python), "app.py"], cwd=out, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_for_server(process, url)
        wav = write_audio(tmp_path / "angry.wav", emotion_signal("angry", 2.0), 16_000)
        label, _, _, numbers = Client(url, verbose=False).predict(handle_file(str(wav)), api_name="/predict")
    finally:
        process.terminate()
        process.wait(timeout=30)
    confidences = {c["label"]: c["confidence"] for c in label["confidences"]}
    assert numbers["label"] == label["label"] and sum(confidences.values()) == pytest.approx(1.0, abs=1e-4)
    assert -1 <= numbers["valence"] <= 1 and -1 <= numbers["arousal"] <= 1


def test_the_space_requirements_cover_everything_the_demo_imports(model_dir, tmp_path):
    """The fresh-venv test above reuses this interpreter's libraries, so it cannot notice a missing
    requirement. Here: every library that the package's modules loaded while the demo serves a
    prediction import must be a requirement of the Space or a dependency of one. (Libraries'
    own optional imports are theirs to guard.)"""
    wav = write_audio(tmp_path / "clip.wav", emotion_signal("sad", 1.0), 16_000)
    script = (
        "import sys, json\n"
        "from hf_emotion.app.demo import build_demo, load_recognizer, predict\n"
        f"recognizer = load_recognizer({str(model_dir)!r})\n"
        "build_demo(recognizer)\n"
        f"predict(recognizer, {str(wav)!r}, max_seconds=60, max_mb=5)\n"
        "print(json.dumps([m.__file__ for n, m in sys.modules.items() if n.startswith('hf_emotion')]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPOSITORY, check=True,
        env={**os.environ, "PYTHONPATH": str(REPOSITORY)},
    )  # fmt: skip
    files = json.loads(done.stdout.strip().splitlines()[-1])
    names = {name for file in files for name in imported_names(Path(file))}
    owners = packages_distributions()
    needed = {canonicalize_name(d) for name in names for d in owners.get(name, []) if d != "hf-emotion"}
    assert needed >= {"torch", "transformers", "gradio"}  # the check sees the real imports
    provided = requirement_closure([Requirement(r).name for r in SPACE_REQUIREMENTS])
    assert needed - provided == set()


def imported_names(path: Path) -> set[str]:
    """The top-level names a module imports absolutely (anywhere in it, lazily or not)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def requirement_closure(names: list[str]) -> set[str]:
    """The distributions ``names`` install: themselves and their dependencies, recursively."""
    seen, todo = set(), [canonicalize_name(n) for n in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for line in distribution(name).requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(requirement.name))
    return seen


# --------------------------------------------------------------------------- what the Space's model/ holds

#: A clip path of the training machine, as a run's predictions.json and trainer_state.json hold them.
TRAINING_MACHINE_CLIP = "/home/trainer/data/ravdess/Actor_01/03-01-05-01-01-01-01.wav"


def make_run_folder(model_dir: Path, run: Path, *, own_model: bool = True, final: bool = True) -> Path:
    """A cross-validation run folder as finetune.py leaves it: the run's model (a copy of ``model_dir``) and
    card at the top, reports naming the training machine's clips, checkpoints, fold models, a final model."""
    run.mkdir(parents=True)
    models = (
        [run / "fold_0", run / "fold_1"] + ([run / "final"] if final else []) + ([run] if own_model else [])
    )
    for folder in models:
        folder.mkdir(exist_ok=True)
        for file in model_dir.iterdir():
            if file.is_file():
                shutil.copy2(file, folder / file.name)
        (folder / "README.md").write_text(f"---\nlicense: cc-by-nc-sa-4.0\n---\n# {folder.name}\n")
        (folder / "speaker_adaptive_head.npz").write_bytes(b"head of " + folder.name.encode())
    for folder in (run, run / "fold_0"):
        (folder / "predictions.json").write_text(json.dumps({"audio": [TRAINING_MACHINE_CLIP]}))
        (folder / "trainer_state.json").write_text(
            json.dumps({"best_model_checkpoint": TRAINING_MACHINE_CLIP})
        )
    (run / "cv_summary.json").write_text(json.dumps({"eval_ua": {"mean": 0.5}}))
    (run / "splits.json").write_text(json.dumps({"test": ["ravdess-01"]}))
    (run / "fold_0" / "checkpoint-10").mkdir()
    (run / "fold_0" / "checkpoint-10" / "model.safetensors").write_bytes(b"an old checkpoint")
    return run


def served_names(model_dir: Path) -> set[str]:
    from hf_emotion.model.files import MODEL_FILES

    return {p.name for p in model_dir.iterdir() if p.name in MODEL_FILES} | {"README.md"}


def test_a_run_folders_space_carries_its_model_and_card_only(model_dir, tmp_path):
    run = make_run_folder(model_dir, tmp_path / "run")
    out = write_space(run, tmp_path / "space", sdk_version="5.9.1")

    copied = {p.relative_to(out / "model").as_posix() for p in (out / "model").rglob("*")}
    assert (
        copied == served_names(run)
        and "model.safetensors" in copied
        and "speaker_adaptive_head.npz" in copied
    )
    assert (out / "model" / "speaker_adaptive_head.npz").read_bytes() == b"head of run"  # the run's own model
    for path in out.rglob("*"):  # no clip path of the training machine anywhere in the Space
        assert not path.is_file() or TRAINING_MACHINE_CLIP.encode() not in path.read_bytes(), path
    assert SpaceCard.load(out / "README.md").data.license == "cc-by-nc-sa-4.0"


def test_a_run_without_a_model_of_its_own_serves_its_final_model(model_dir, tmp_path):
    run = make_run_folder(model_dir, tmp_path / "run", own_model=False)
    out = write_space(run, tmp_path / "space", sdk_version="5.9.1")

    assert {p.name for p in (out / "model").iterdir()} == served_names(run / "final")
    assert (out / "model" / "speaker_adaptive_head.npz").read_bytes() == b"head of final"
    assert "copied from run/final" in (out / "README.md").read_text()


def test_a_run_with_fold_models_only_is_refused_naming_a_fold(model_dir, tmp_path, capsys):
    run = make_run_folder(model_dir, tmp_path / "run", own_model=False, final=False)
    out = tmp_path / "space"
    assert cli_main(["space", "--model", str(run), "--out", str(out), "--sdk_version", "5.9.1"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"error: --model {run}: a cross-validation run without a final model; give one fold's folder "
        f"(--model {run / 'fold_0'}, one of fold_0, fold_1), or train it with --final_model"
    )
    assert not out.exists()


def test_a_model_folder_without_weights_is_refused(model_dir, tmp_path, capsys):
    no_weights = tmp_path / "no-weights"
    shutil.copytree(model_dir, no_weights, ignore=shutil.ignore_patterns("*.safetensors", "checkpoint-*"))
    out = tmp_path / "space"
    assert cli_main(["space", "--model", str(no_weights), "--out", str(out), "--sdk_version", "5.9.1"]) == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith(f"error: --model {no_weights}: no model.safetensors or model.onnx there"), line
    assert not out.exists()


def test_an_onnx_export_is_served_without_its_export_record(tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    for name in ("config.json", "preprocessor_config.json", "model.onnx", "README.md"):
        (export / name).write_text(name)
    (export / "onnx_export.json").write_text(json.dumps({"source": "/home/trainer/runs/model"}))
    out = write_space(export, tmp_path / "space", sdk_version="5.9.1")
    assert {p.name for p in (out / "model").iterdir()} == {
        "config.json",
        "preprocessor_config.json",
        "model.onnx",
        "README.md",
    }
