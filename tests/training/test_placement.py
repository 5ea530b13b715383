"""hf_emotion.training.placement: the precision a run computes in, chosen once from the CPU's flags."""

from __future__ import annotations

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
