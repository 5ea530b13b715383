"""Arguments whose numbers would look right and be wrong: refused in one line, exit status 2, before decoding.

The same clips given twice (``--dataset ravdess ravdess --data_dir D D``) count every clip twice; a random
split asked for together with fixed test speakers drops the speakers without a word; one label to score makes
UA 1.0 for any model. finetune.py, ``hf-emotion evaluate``, ``adapt`` and ``baseline`` refuse them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import finetune
from hf_emotion.cli import main as cli_main
from hf_emotion.corpora import load_corpora
from hf_emotion.data import decode_cache
from hf_emotion.errors import DEBUG_ENV, ConfigurationError, exit_status
from hf_emotion.training import recipe
from tests.cli_checks import drop_stream_handlers
from tests.cli_checks import one_error_line as _one_error_line
from tests.serving.test_inference import make_emotion_model_dir
from tests.synth import make_ravdess_tree

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def small_ravdess(tmp_path_factory) -> Path:
    """4 actors, each with short clips of angry, happy and neutral."""
    root = tmp_path_factory.mktemp("small-ravdess")
    return make_ravdess_tree(root, actors=range(1, 5), emotions=("neutral", "happy", "angry"), seconds=0.2)


@pytest.fixture(scope="module")
def model_dir(tiny_wav2vec2_dir, tmp_path_factory) -> Path:
    return make_emotion_model_dir(tiny_wav2vec2_dir, tmp_path_factory.mktemp("double-counted-model"))


@pytest.fixture(autouse=True)
def nothing_is_decoded(monkeypatch):
    """Every refusal here comes before any audio is decoded (the recipe's and the commands' decoding)."""

    def too_late(*args, **kwargs):
        raise AssertionError("the arguments should have been refused before decoding")

    monkeypatch.setattr(recipe, "decode_dataset", too_late)
    monkeypatch.setattr(decode_cache, "decode_dataset", too_late)
    monkeypatch.delenv(DEBUG_ENV, raising=False)


@pytest.fixture(autouse=True)
def no_stale_log_handlers():
    """finetune.main and the CLI point the root logger at this test's stderr, which pytest closes afterwards."""

    drop_stream_handlers()
    yield
    drop_stream_handlers()


# --------------------------------------------------------------------------- the same clips twice


def test_corpora_that_share_clips_are_refused(small_ravdess):
    actor = str(small_ravdess / "Actor_01")
    for names, folders in (
        (["ravdess", "ravdess"], [str(small_ravdess), str(small_ravdess)]),
        (["ravdess", "ravdess_speech"], [str(small_ravdess), str(small_ravdess)]),
        (["ravdess", "ravdess"], [str(small_ravdess), actor]),
    ):
        with pytest.raises(
            ConfigurationError, match=f"--dataset {names[0]} \\(--data_dir {small_ravdess}\\) and "
        ):
            load_corpora(names, folders)


def test_corpora_in_separate_folders_load_together(small_ravdess, tmp_path):
    song = make_ravdess_tree(tmp_path / "song", actors=range(1, 5), channel="song", emotions=("happy",))
    loaded = load_corpora(["ravdess", "ravdess"], [str(small_ravdess), str(song)])
    assert len(loaded) == len(list(small_ravdess.rglob("*.wav"))) + len(list(song.rglob("*.wav")))


def test_finetune_with_one_folder_given_twice_exits_2_in_one_line(small_ravdess, tiny_wav2vec2_dir, tmp_path):
    folder = str(small_ravdess)
    argv = ["--dataset", "ravdess", "ravdess", "--data_dir", folder, folder, "--num_folds", "3"]
    argv += ["--model_name_or_path", str(tiny_wav2vec2_dir)]
    done = subprocess.run(
        [sys.executable, str(REPO / "finetune.py"), *argv, "--output_dir", str(tmp_path / "run")],
        env={**os.environ, "PYTHONPATH": str(REPO), DEBUG_ENV: "0"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .startswith(
            f"error: --dataset ravdess (--data_dir {folder}) and --dataset ravdess (--data_dir {folder}) hold the "
            "same clips ("
        )
    )
    assert "Traceback" not in done.stderr and not (tmp_path / "run" / "fold_0").exists()


@pytest.mark.parametrize("command", ["evaluate", "adapt"])
def test_evaluate_and_adapt_refuse_one_folder_given_twice(
    small_ravdess, model_dir, tmp_path, capsys, command
):
    split = tmp_path / "splits.json"
    split.write_text(
        '{"protocol": "fixed", "train": ["ravdess-01", "ravdess-02"], "validation": ["ravdess-03"], '
        '"test": ["ravdess-04"]}'
    )
    argv = [command, "--model", str(model_dir), "--dataset", "ravdess", "ravdess_speech"]
    argv += ["--data_dir", str(small_ravdess), str(small_ravdess), "--output_dir", str(tmp_path / "out")]
    argv += ["--split_file", str(split)]
    assert cli_main(argv) == 2
    assert "hold the same clips" in _one_error_line(capsys)


# --------------------------------------------------------------------------- a random split and test speakers


def test_finetune_refuses_a_random_split_with_test_speakers(
    small_ravdess, tiny_wav2vec2_dir, tmp_path, capsys
):
    argv = ["--dataset", "ravdess", "--data_dir", str(small_ravdess), "--random_split"]
    argv += ["--test_speakers", "ravdess-01", "--model_name_or_path", str(tiny_wav2vec2_dir)]
    status = exit_status(lambda: finetune.main([*argv, "--output_dir", str(tmp_path / "run")]))
    assert status == 2
    assert _one_error_line(capsys) == (
        "error: --random_split deals clips at random and --test_speakers fixes the test speakers: give one of them"
    )


def test_baseline_refuses_a_random_split_with_test_speakers(small_ravdess, tmp_path, capsys):
    argv = ["baseline", "--system", "rf-mfcc", "--dataset", "ravdess", "--data_dir", str(small_ravdess)]
    argv += ["--random_split", "--test_speakers", "ravdess-01", "--output_dir", str(tmp_path / "run")]
    assert cli_main(argv) == 2
    assert "--random_split deals clips at random and --test_speakers" in _one_error_line(capsys)
    assert not list((tmp_path / "run").glob("*.json"))


# --------------------------------------------------------------------------- one label to score


@pytest.mark.parametrize("labels", ["angry", "angry,angry", ","])
def test_evaluate_with_fewer_than_two_labels_is_refused(small_ravdess, model_dir, tmp_path, capsys, labels):
    argv = ["evaluate", "--model", str(model_dir), "--dataset", "ravdess", "--data_dir", str(small_ravdess)]
    argv += ["--output_dir", str(tmp_path / "out"), "--labels", labels]
    assert cli_main(argv) == 2
    assert _one_error_line(capsys) == (
        f"error: --labels {labels}: give at least two labels, comma-separated (over one label every clip is "
        "scored right: UA 1.0 for any model)"
    )
    assert not (tmp_path / "out" / "all_results.json").exists()
