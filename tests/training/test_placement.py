"""hf_emotion.training.placement: the precision a run computes in, chosen once from the CPU's flags."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hf_emotion.cli import main as cli_main
from hf_emotion.errors import ConfigurationError
from hf_emotion.training import placement
from hf_emotion.training.finetune import parse_args


@pytest.fixture
def cpu_with(monkeypatch):
    """Make the run see a CPU-only machine whose /proc/cpuinfo flags are the ones given."""

    def set_flags(*flags: str) -> None:
        monkeypatch.setattr(placement, "cpu_flags", lambda: {"avx2", "fma", *flags})
        monkeypatch.setattr(placement, "has_accelerator", lambda: False)

    return set_flags


def _training_args(tmp_path, *flags: str):
    return parse_args(["--output_dir", str(tmp_path), *flags])[2]


@pytest.mark.parametrize("flag", ["avx512_bf16", "amx_bf16"])
def test_auto_computes_in_bf16_on_a_cpu_with_native_bf16(cpu_with, tmp_path, flag):
    cpu_with(flag)
    args = _training_args(tmp_path)
    assert args.precision == "bf16" and args.bf16 and flag in args.precision_reason
    assert str(placement.training_dtype(args)) == "torch.bfloat16"


def test_auto_stays_in_fp32_on_a_cpu_without_native_bf16(cpu_with, tmp_path):
    cpu_with("avx512f")
    args = _training_args(tmp_path)
    assert args.precision == "fp32" and not args.bf16 and "no native bf16" in args.precision_reason
    assert str(placement.training_dtype(args)) == "torch.float32"


def test_explicit_precision_wins_over_the_cpu_flags(cpu_with, tmp_path):
    cpu_with("avx512_bf16")
    args = _training_args(tmp_path, "--precision", "fp32")
    assert args.precision == "fp32" and not args.bf16
    cpu_with()
    assert _training_args(tmp_path, "--precision", "bf16").bf16
    args = _training_args(tmp_path, "--bf16")  # the Trainer's own flag still asks for bf16
    assert args.precision == "bf16" and args.bf16 and args.precision_reason == "--bf16"


def test_auto_on_an_accelerator_keeps_what_the_trainer_does():
    choose = placement.choose_precision
    assert choose("auto", on_cpu=False, flags={"avx512_bf16"})[0] == "fp32"
    assert choose("auto", fp16=True, on_cpu=False, flags=set()) == ("fp16", "--fp16")
    assert choose("auto", bf16=True, on_cpu=False, flags=set()) == ("bf16", "--bf16")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--precision", "fp32", "--bf16"], "--precision fp32 contradicts --bf16; drop one of them"),
        (["--precision", "fp8"], "--precision must be one of auto, fp32, bf16, got 'fp8'"),
    ],
)
def test_a_precision_that_cannot_be_is_refused_in_one_line(cpu_with, tmp_path, capsys, flags, message):
    cpu_with("avx512_bf16")
    with pytest.raises(ConfigurationError, match=message):
        _training_args(tmp_path, *flags)
    assert cli_main(["train", "--output_dir", str(tmp_path), *flags]) == 2
    assert capsys.readouterr().err.strip() == f"error: {message}"


def test_the_precision_and_its_reason_are_logged_before_any_loading(
    cpu_with, tmp_path, capsys, ravdess_dir, tiny_wav2vec2_dir
):
    cpu_with()
    folds = tmp_path / "folds.json"
    folds.write_text('[["ravdess-01"], ["ravdess-02"], ["nobody"]]')  # refused once the corpus is listed
    argv = ["train", "--model_name_or_path", str(tiny_wav2vec2_dir), "--data_dir", str(ravdess_dir)]
    assert cli_main([*argv, "--folds_file", str(folds), "--output_dir", str(tmp_path / "run")]) == 2
    out = capsys.readouterr().out
    assert "Precision fp32: auto: the CPU has no native bf16 (none of avx512_bf16, amx_bf16)" in out


# --------------------------------------------------------------------------- threads under accelerate launch

LAUNCHED = {"ACCELERATE_USE_CPU": "False", "OMP_NUM_THREADS": "1"}


@pytest.mark.parametrize(
    ("env", "parent_env", "overridden"),
    [
        (LAUNCHED, {"PATH": "/bin"}, True),  # accelerate's default: the user set nothing
        (LAUNCHED, {"OMP_NUM_THREADS": "1"}, False),  # the user asked for one thread
        (LAUNCHED, None, False),  # the launcher's environment cannot be read: keep what is set
        ({**LAUNCHED, "ACCELERATE_USE_CPU": "True"}, {}, False),  # --cpu: accelerate chose per process
        ({"OMP_NUM_THREADS": "1"}, {}, False),  # not started by accelerate launch
        ({**LAUNCHED, "OMP_NUM_THREADS": "2"}, {}, False),
    ],
)
def test_only_accelerate_launchs_one_thread_default_is_overridden(env, parent_env, overridden):
    assert placement.launcher_thread_default(env, parent_env) is overridden


SHOW_THREADS = """
import torch
from hf_emotion.training.placement import use_every_core

class Args:
    use_cpu = False

print("LINE", use_every_core(Args()))
print("NUM_THREADS_NOW", torch.get_num_threads())
"""


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores to tell one thread from all")
@pytest.mark.parametrize("user_threads", [None, "1"])
def test_a_real_accelerate_launch_trains_on_every_core_unless_the_user_chose(tmp_path, user_threads):
    script = tmp_path / "show_threads.py"
    script.write_text(SHOW_THREADS)
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    if user_threads:
        env["OMP_NUM_THREADS"] = user_threads
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    done = subprocess.run(
        [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1", "--num_machines", "1",
         "--mixed_precision", "no", "--dynamo_backend", "no", str(script)],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    threads = int(done.stdout.split("NUM_THREADS_NOW")[1].split()[0])
    if user_threads:
        assert "LINE None" in done.stdout and threads == 1
    else:
        assert "accelerate launch set OMP_NUM_THREADS=1" in done.stdout
        assert threads == len(os.sched_getaffinity(0))
