"""``pip install .`` (not editable) into a fresh venv; every subcommand runs from another folder."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

import hf_emotion
from hf_emotion.cli import SUBCOMMANDS
from tests.fresh_venv import copy_checkout, fresh_venv, run_in
from tests.serving.test_inference import make_emotion_model_dir
from tests.synth import emotion_signal, write_audio


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    """(the venv's python, a folder outside the checkout), with the package installed from a copy of it."""
    tmp = tmp_path_factory.mktemp("plain-install")
    source = copy_checkout(tmp / "source")
    python = fresh_venv(tmp / "venv")  # hf_emotion is not importable there yet (checked)
    # --no-build-isolation: setuptools comes from this interpreter instead of a download.
    run_in(python, "-m", "pip", "install", "-q", "--no-build-isolation", str(source), cwd=tmp)
    elsewhere = tmp / "elsewhere"
    elsewhere.mkdir()
    return python, elsewhere


@pytest.mark.slow
def test_the_package_installs_under_its_own_name_only(installed):
    python, elsewhere = installed
    where = run_in(python, "-c", "import hf_emotion, sysconfig; print(hf_emotion.__file__); "
                   "print(sysconfig.get_paths()['purelib'])", cwd=elsewhere).stdout.split()  # fmt: skip
    package, site_packages = Path(where[0]), Path(where[1])
    assert package.is_relative_to(site_packages)  # the installed copy, not the checkout
    top_level = {p.name for p in site_packages.iterdir() if not p.name.endswith((".pth", ".dist-info"))}
    assert top_level == {"hf_emotion"}, top_level  # no generic 'baselines' beside it
    assert (site_packages / "hf_emotion" / "baselines" / "common.py").is_file()


@pytest.mark.slow
def test_every_subcommand_answers_help_from_another_folder(installed):
    python, elsewhere = installed
    cli = python.parent / "hf-emotion"
    assert run_in(cli, "--version", cwd=elsewhere).stdout.strip() == f"hf-emotion {hf_emotion.__version__}"
    for name in set(SUBCOMMANDS) - {"train"}:
        usage = run_in(cli, name, "--help", cwd=elsewhere).stdout
        assert "usage" in usage.lower(), (name, usage)


@pytest.mark.slow
def test_train_answers_help_from_another_folder(installed):
    python, elsewhere = installed
    usage = run_in(python.parent / "hf-emotion", "train", "--help", cwd=elsewhere).stdout
    assert "--model_name_or_path" in usage and "--dataset_config_name" in usage


@pytest.mark.slow
def test_predict_and_space_run_for_real_after_a_plain_install(installed, tiny_wav2vec2_dir, tmp_path):
    python, elsewhere = installed
    cli = python.parent / "hf-emotion"
    model = make_emotion_model_dir(tiny_wav2vec2_dir, tmp_path / "model")
    wav = write_audio(tmp_path / "clip.wav", emotion_signal("happy", 1.0), 16_000)
    lines = run_in(cli, "predict", str(wav), "--model", str(model), "--no_progress", cwd=elsewhere).stdout
    prediction = json.loads(lines.strip().splitlines()[-1])
    assert prediction["label"] in hf_emotion.EMOTIONS and set(prediction["probabilities"]) == set(
        hf_emotion.EMOTIONS
    )
    run_in(cli, "space", "--model", str(model), "--out", str(tmp_path / "space"), "--sdk_version", "5.9.1",
           cwd=elsewhere)  # fmt: skip
    assert (tmp_path / "space" / "app.py").is_file() and (
        tmp_path / "space" / "model" / "config.json"
    ).is_file()


@pytest.mark.slow
def test_demo_serves_after_a_plain_install(installed, tiny_wav2vec2_dir, tmp_path):
    """``hf-emotion demo`` runs the app inside the installed package: no demo/app.py to find."""
    from gradio_client import Client, handle_file

    from tests.fresh_venv import clean_env
    from tests.hub.test_space import free_port, wait_for_server

    python, elsewhere = installed
    model = make_emotion_model_dir(tiny_wav2vec2_dir, tmp_path / "model")
    port = free_port()
    process = subprocess.Popen(
        [str(python.parent / "hf-emotion"), "demo", "--model", str(model), "--port", str(port), "--host", "127.0.0.1"],
        cwd=elsewhere, env=clean_env(GRADIO_ANALYTICS_ENABLED="False"), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_for_server(process, url)
        wav = write_audio(tmp_path / "clip.wav", emotion_signal("sad", 1.0), 16_000)
        label, _, _, numbers = Client(url, verbose=False).predict(handle_file(str(wav)), api_name="/predict")
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert numbers["label"] == label["label"] and label["label"] in hf_emotion.EMOTIONS
