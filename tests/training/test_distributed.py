"""finetune.py under ``accelerate launch`` with two processes: real DDP over gloo on the CPU.

``--multi_gpu --num_processes 2 ... --use_cpu`` starts two ranks that train one model together
(without ``--use_cpu`` on a machine with no GPU each rank would train alone). The run must split
the speakers as one process does, write each file once, and end every fold with the same model
on both ranks.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from hf_emotion.training.finetune import main as finetune_main
from tests.synth import make_ravdess_tree

REPO = Path(__file__).resolve().parents[2]
FOLDS = 3


def _free_port() -> int:
    # other test sessions may run DDP on this machine too: never the default port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _finetune_args(model_dir: Path, data_dir: Path, out: Path) -> list[str]:
    return [
        "--model_name_or_path",
        str(model_dir),
        "--dataset",
        "ravdess",
        "--data_dir",
        str(data_dir),
        "--num_folds",
        str(FOLDS),
        "--cross_validation",
        "--output_dir",
        str(out),
        "--max_steps",
        "1",
        "--linear_probe_epochs",
        "2",
        "--refit_heads_epochs",
        "2",
        "--per_device_train_batch_size",
        "4",
        "--per_device_eval_batch_size",
        "8",
        "--max_eval_seconds",
        "1",
        "--save_strategy",
        "no",
        "--eval_strategy",
        "no",
        "--load_best_model_at_end",
        "false",
        "--use_cpu",
    ]


def _launch(args: list[str], processes: int, cwd: Path, cache: Path) -> subprocess.CompletedProcess:
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--num_machines", "1", "--multi_gpu"]
    launch += ["--num_processes", str(processes), "--mixed_precision", "no", "--dynamo_backend", "no"]
    launch += ["--main_process_port", str(_free_port())]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "HF_DATASETS_CACHE": str(cache)}
    return subprocess.run(
        [*launch, str(REPO / "finetune.py"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def six_speakers(tmp_path_factory) -> Path:
    """6 synthetic actors (3 female, 3 male): 3 gender-balanced folds of 2."""
    return make_ravdess_tree(tmp_path_factory.mktemp("six"), actors=range(1, 7))


def test_two_processes_split_write_and_end_like_one(tmp_path, six_speakers, tiny_wav2vec2_dir):
    one = tmp_path / "one"
    finetune_main(_finetune_args(tiny_wav2vec2_dir, six_speakers, one))  # one process, in this one
    two = tmp_path / "two"
    ddp = _launch(_finetune_args(tiny_wav2vec2_dir, six_speakers, two), 2, tmp_path, tmp_path / "cache")
    log = ddp.stdout + ddp.stderr
    assert ddp.returncode == 0, log[-6000:]

    assert "2 process(es) on cpu" in log  # one DDP run of world size 2, not two runs side by side
    # The clips were decoded once (the replica waited, then read the cache) and each fold reported once.
    assert len(re.findall(r"Decoding audio at \d+ Hz:\s+0%", log)) == 1
    for fold in range(FOLDS):
        assert log.count(f"Fold {fold} on test speakers") == 1
        fold_one, fold_two = one / f"fold_{fold}", two / f"fold_{fold}"
        assert json.loads((fold_two / "splits.json").read_text()) == json.loads(
            (fold_one / "splits.json").read_text()
        )
        # the same files as one process writes, none per rank
        assert sorted(p.name for p in fold_two.iterdir()) == sorted(p.name for p in fold_one.iterdir())
        results = json.loads((fold_two / "all_results.json").read_text())
        digests = results["model_sha256_by_process"]
        assert len(digests) == 2 and digests[0] == digests[1], digests  # the same model on both ranks
        assert len(json.loads((fold_one / "all_results.json").read_text())["model_sha256_by_process"]) == 1
    assert sorted(p.name for p in two.iterdir()) == sorted(p.name for p in one.iterdir())
    summary = json.loads((two / "cv_summary.json").read_text())
    assert summary["summary"]["eval_ua"]["n"] == FOLDS
