"""Every run file in configs/ parses with finetune.py's own parser and names a backbone that exists.

Fast: nothing is trained or loaded; ``--data_dir``/``--output_dir`` are pointed at tmp folders.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from finetune import parse_args
from hf_emotion.backbones import BACKBONES

CONFIGS = sorted((Path(__file__).resolve().parent.parent / "configs").glob("*.json"))


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
