"""Every run file in configs/ parses with finetune.py's own parser and names a backbone that exists.

Fast: nothing is trained or loaded; ``--data_dir``/``--output_dir`` are pointed at tmp folders.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hf_emotion.backbones import BACKBONES
from hf_emotion.training.arguments import DEFAULT_LEARNING_RATE, LEARNING_RATES, resolve_backbone_defaults
from hf_emotion.training.finetune import parse_args, run_file_to_flags

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*.json"))


def test_there_are_configs():
    assert CONFIGS, "configs/ holds no run files"


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_parses_with_overrides(path: Path, tmp_path: Path):
    values = json.loads(path.read_text())
    data_dirs = [str(tmp_path / f"data{i}") for i in range(len(values.get("dataset", ["ravdess"])))]
    model_args, data_args, training_args = parse_args(
        [str(path), "--data_dir", *data_dirs, "--output_dir", str(tmp_path / "out")]
    )
    assert data_args.data_dir == data_dirs
    assert training_args.output_dir == str(tmp_path / "out")
    # Every key of the file reached an argument (a typo would have made the parser fail).
    assert model_args.model_name_or_path == values["model_name_or_path"]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_names_a_known_backbone(path: Path):
    name = json.loads(path.read_text())["model_name_or_path"]
    is_hub_id = "/" in name and not Path(name).exists() and len(name.split("/")) == 2
    assert name in BACKBONES or Path(name).is_dir() or is_hub_id, (
        f"{path.name}: model_name_or_path {name!r} is neither a known backbone "
        f"({', '.join(sorted(BACKBONES))}), a folder, nor a Hub id"
    )


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_name_matches_backbone_and_corpus(path: Path):
    values = json.loads(path.read_text())
    backbone = Path(values["model_name_or_path"]).name
    assert path.stem.startswith(f"{backbone}-"), f"{path.name} should be named {backbone}-<corpus>.json"
    # Data paths in run files are relative to the repository root, never absolute machine paths.
    for data_dir in values.get("data_dir", []):
        assert not Path(data_dir).is_absolute(), f"{path.name}: data_dir {data_dir!r} should be relative"


# The recipe every recorded run in benchmarks/results/finetune.json used (the run files' flags until the
# defaults became the recipe): the defaults must still be it.
RECORDED_RECIPE = {
    "num_folds": 6,
    "max_train_seconds": 3.0,
    "max_eval_seconds": 20.0,
    "linear_probe_epochs": 100,
    "linear_probe_learning_rate": 0.001,
    "refit_heads_epochs": 100,
    "freeze_encoder_epochs": 0,
    "num_train_epochs": 6,
    "learning_rate": 5e-05,
    "head_learning_rate": 0.0005,
    "lr_scheduler_type": "linear",
    "warmup_steps": 0.1,
    "weight_decay": 0.01,
    "per_device_train_batch_size": 8,
    "per_device_eval_batch_size": 32,
    "eval_strategy": "epoch",
    "save_strategy": "epoch",
    "save_total_limit": 1,
    # "ua" (whole validation clips) in the runs recorded before 2026-12-08, which say so in their notes.
    "metric_for_best_model": "whole_trimmed_ua",
    "load_best_model_at_end": True,
    "ccc_loss_weight": 0.5,
    "head_dropout": 0.1,
    "logging_steps": 10,
    "report_to": "none",
    "seed": 42,
    "resume_from_checkpoint": "latest",
}


def _resolved(argv: list[str], encoder_type: str) -> dict:
    """Every argument after parsing and resolving the backbone's defaults, as one flat dict."""
    model_args, data_args, training_args = parse_args(argv)
    resolve_backbone_defaults(model_args, training_args, encoder_type)
    values = {**vars(model_args), **vars(data_args), **training_args.to_dict()}
    return {k: v.value if hasattr(v, "value") else v for k, v in values.items()}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_run_file_says_only_what_differs_from_the_defaults(path: Path, tmp_path: Path):
    values = json.loads(path.read_text())
    defaults = _resolved(["--output_dir", str(tmp_path)], "whisper")
    same = {k: v for k, v in values.items() if k not in ("dataset", "data_dir") and defaults[k] == v}
    assert not same, f"{path.name} repeats defaults {same}; drop them"


def test_defaults_are_the_recorded_recipe(tmp_path: Path):
    out = ["--output_dir", str(tmp_path)]
    assert _resolved(out, "whisper") == _resolved([*run_file_to_flags(RECORDED_RECIPE), *out], "whisper")


def test_flags_alone_reproduce_the_readme_run_file(tmp_path: Path):
    data, out = str(tmp_path / "ravdess-speech"), str(tmp_path / "out")
    from_file = _resolved(
        [
            str(CONFIGS[0].parent / "whisper-tiny.en-ravdess-speech.json"),
            "--data_dir",
            data,
            "--output_dir",
            out,
        ],
        "whisper",
    )
    from_flags = _resolved(
        "--model_name_or_path whisper-tiny.en --dataset ravdess --ravdess_channel speech "
        f"--data_dir {data} --output_dir {out} --cross_validation".split(),
        "whisper",
    )
    assert from_flags == from_file


def test_learning_rate_follows_the_backbone_unless_given(tmp_path: Path, caplog):
    out = ["--output_dir", str(tmp_path)]
    with caplog.at_level("INFO", logger="hf_emotion.training.arguments"):
        assert _resolved(out, "wav2vec2")["learning_rate"] == DEFAULT_LEARNING_RATE
    assert f"Learning rate {DEFAULT_LEARNING_RATE:g} for a wav2vec2 encoder" in caplog.text
    assert _resolved(out, "whisper")["learning_rate"] == LEARNING_RATES["whisper"]
    resolved = _resolved([*out, "--learning_rate", "1e-4"], "whisper")
    assert resolved["learning_rate"] == 1e-4 and resolved["head_learning_rate"] == 1e-3
    assert _resolved([*out, "--head_learning_rate", "1e-2"], "whisper")["head_learning_rate"] == 1e-2
