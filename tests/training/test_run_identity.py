"""A reused --output_dir never mixes two runs: the same run resumes, another is refused in one line before any
decoding, and --overwrite_output_dir removes the earlier run's files first."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import finetune
import hf_emotion.training.recipe
from hf_emotion.cli import main as cli_main
from hf_emotion.errors import ConfigurationError, exit_status
from hf_emotion.serving.speaker_adaptive import HEAD_FILE
from hf_emotion.training.run_identity import (
    RUN_IDENTITY_FILE,
    claim_output_dir,
    first_difference,
    output_dir_problem,
    run_identity,
)
from tests.conftest import tiny_wav2vec2_config

REPO = Path(__file__).resolve().parents[2]
REFUSED = "give another --output_dir or --overwrite_output_dir"
# Fast: no probe, no refit, one-second evaluation clips.
QUICK = ["--linear_probe_epochs", "0", "--refit_heads_epochs", "0", "--max_eval_seconds", "1",
         "--per_device_train_batch_size", "8", "--per_device_eval_batch_size", "16"]  # fmt: skip


def _fold_args(model, data, out, fold, *extra) -> list[str]:
    """One fold of 4, two steps with a checkpoint at each: the folder then holds checkpoints to resume."""
    return [
        "--model_name_or_path", str(model), "--dataset", "ravdess", "--data_dir", str(data), "--num_folds", "4",
        "--fold", str(fold), "--max_steps", "2", "--save_steps", "1", "--output_dir", str(out), *QUICK, *extra,
    ]  # fmt: skip


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def no_decoding(monkeypatch):
    """A refusal must come before the audio is decoded."""

    def decode(*args, **kwargs):
        raise AssertionError("the audio was decoded before the output folder was checked")

    monkeypatch.setattr(hf_emotion.training.recipe, "decode_dataset", decode)


@pytest.fixture(scope="module")
def fold_0_run(tmp_path_factory, ravdess_dir, tiny_wav2vec2_dir) -> Path:
    """Fold 0 of a tiny wav2vec2 with a speaker-adaptive head, into its own folder."""
    out = tmp_path_factory.mktemp("fold-0") / "run"
    finetune.main(_fold_args(tiny_wav2vec2_dir, ravdess_dir, out, 0, "--speaker_adaptive_head"))
    assert (out / HEAD_FILE).is_file() and list(out.glob("checkpoint-*"))
    return out


@pytest.fixture(scope="module")
def cross_validation_run(tmp_path_factory, ravdess_dir, tiny_wav2vec2_dir) -> Path:
    """A finished 4-fold cross-validation of a tiny wav2vec2 on synthetic RAVDESS."""
    out = tmp_path_factory.mktemp("cv") / "run"
    finetune.main(
        ["--model_name_or_path", str(tiny_wav2vec2_dir), "--dataset", "ravdess", "--data_dir", str(ravdess_dir),
         "--cross_validation", "--num_folds", "4", "--max_steps", "1", "--eval_strategy", "no",
         "--save_strategy", "no", "--load_best_model_at_end", "false", "--output_dir", str(out), *QUICK]
    )  # fmt: skip
    assert (out / "cv_summary.json").is_file()
    return out


def test_another_fold_into_the_same_folder_is_refused_before_decoding(
    fold_0_run, ravdess_dir, tiny_wav2vec2_dir, no_decoding, capsys
):
    before = _snapshot(fold_0_run)
    argv = _fold_args(tiny_wav2vec2_dir, ravdess_dir, fold_0_run, 2)
    assert exit_status(lambda: finetune.main(argv)) == 2
    assert capsys.readouterr().err == (
        f"error: --output_dir {fold_0_run} holds a run with fold 0, this run asks for fold 2: {REFUSED}\n"
    )
    assert _snapshot(fold_0_run) == before  # fold 0's checkpoints, head and results as they were


def test_overwrite_output_dir_trains_the_other_fold_afresh_without_the_old_head(
    fold_0_run, ravdess_dir, tiny_wav2vec2_dir, tmp_path, capsys
):
    """Fold 2 into fold 0's folder with --overwrite_output_dir: fold 0's checkpoint is not resumed, and its
    speaker-adaptive head (trained on fold 2's test speakers) is gone, so predict cannot use it."""
    out = tmp_path / "run"
    shutil.copytree(fold_0_run, out)
    (out / "notes.txt").write_text("the user's, not the run's")
    finetune.main(
        _fold_args(tiny_wav2vec2_dir, ravdess_dir, out, 2, "--overwrite_output_dir", "--logging_steps", "1")
    )
    log = capsys.readouterr().out
    assert "Resuming from" not in log and "removed the earlier run's" in log
    assert json.loads((out / "splits.json").read_text())["fold"] == 2
    assert json.loads((out / RUN_IDENTITY_FILE).read_text())["fold"] == 2
    state = json.loads((out / "trainer_state.json").read_text())
    trained_steps = [entry["step"] for entry in state["log_history"] if "loss" in entry]
    assert trained_steps == [1, 2]  # from step 0, not on from fold 0's checkpoint-2
    assert not (out / HEAD_FILE).exists()
    assert (out / "notes.txt").read_text() == "the user's, not the run's"

    speakers = tmp_path / "clips"
    for actor in ("Actor_01", "Actor_02"):
        shutil.copytree(ravdess_dir / actor, speakers / actor)
    files = sorted(str(p) for p in speakers.rglob("*.wav"))
    code = cli_main(["predict", *files, "--model", str(out), "--speaker_per_folder", "--no_progress"])
    captured = capsys.readouterr()
    assert code == 2 and f"this model has no {HEAD_FILE}" in captured.out + captured.err


def test_a_cross_validation_into_another_backbones_and_corpus_folder_is_refused(
    cross_validation_run, crema_d_dir, tiny_whisper_dir, tiny_wav2vec2_dir, no_decoding, capsys
):
    """Not "Fold k already finished" with the old model's numbers under the new model's name."""
    before = _snapshot(cross_validation_run)
    argv = ["--model_name_or_path", str(tiny_whisper_dir), "--dataset", "crema_d", "--data_dir", str(crema_d_dir),
            "--cross_validation", "--num_folds", "4", "--output_dir", str(cross_validation_run), *QUICK]  # fmt: skip
    assert exit_status(lambda: finetune.main(argv)) == 2
    captured = capsys.readouterr()
    assert captured.err == (
        f"error: --output_dir {cross_validation_run} holds a run with model_name_or_path {tiny_wav2vec2_dir}, "
        f"this run asks for model_name_or_path {tiny_whisper_dir}: {REFUSED}\n"
    )
    assert "already finished" not in captured.out
    assert _snapshot(cross_validation_run) == before


def test_a_single_fold_with_another_backbone_exits_2_in_one_line_not_a_size_mismatch(
    fold_0_run, ravdess_dir, tiny_wav2vec2_dir, tmp_path
):
    from transformers import Wav2Vec2FeatureExtractor, Wav2Vec2Model

    wider = tmp_path / "wider-wav2vec2"
    Wav2Vec2Model(tiny_wav2vec2_config(hidden_size=48)).save_pretrained(wider)
    Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=True).save_pretrained(wider)
    out = tmp_path / "run"
    shutil.copytree(fold_0_run, out)
    result = subprocess.run(
        [sys.executable, str(REPO / "finetune.py"), *_fold_args(wider, ravdess_dir, out, 0)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO), "HF_EMOTION_DEBUG": ""},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1].startswith(
        f"error: --output_dir {out} holds a run with model_name_or_path {tiny_wav2vec2_dir}, "
    )
    assert result.stderr.splitlines()[-1].endswith(f"model_name_or_path {wider}: {REFUSED}")


# --------------------------------------------------------------------------- the identity and the folder


def _identity(*flags: str, label_names=("angry", "happy")) -> dict:
    argv = ["--model_name_or_path", "facebook/wav2vec2-base", "--data_dir", "data", "--output_dir", "out"]
    model_args, data_args, training_args = finetune.parse_args([*argv, *flags])
    return run_identity(model_args, data_args, training_args, list(label_names))


def test_options_that_do_not_change_training_leave_the_run_the_same(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    same = _identity("--logging_steps", "7", "--per_device_eval_batch_size", "3", "--save_total_limit", "4",
                     "--resume_from_checkpoint", "none", "--final_model", "false", "--dataloader_num_workers", "2")  # fmt: skip
    assert first_difference(_identity(), same) is None
    assert _identity()["data_dir"] == [str(tmp_path / "data")]  # a folder is the folder, wherever named from
    # --fold means nothing to a cross-validation, which runs them all
    every_fold = _identity("--cross_validation")
    assert first_difference(every_fold, _identity("--cross_validation", "--fold", "3")) is None


@pytest.mark.parametrize(
    ("flags", "difference"),
    [
        (["--fold", "2"], "fold 0, this run asks for fold 2"),
        (["--seed", "7"], "seed 42, this run asks for seed 7"),
        (["--dataset", "crema_d"], "dataset ravdess, this run asks for dataset crema_d"),
        (["--cross_validation"], "cross_validation false, this run asks for cross_validation true"),
        (
            ["--speaker_adaptive_head"],
            "speaker_adaptive_head false, this run asks for speaker_adaptive_head true",
        ),
        (["--learning_rate", "1e-4"], "learning_rate none, this run asks for learning_rate 0.0001"),
    ],
)
def test_each_option_that_changes_the_run_is_named(flags, difference):
    assert first_difference(_identity(), _identity(*flags)) == difference


def test_other_labels_are_another_run():
    assert first_difference(_identity(), _identity(label_names=["angry", "sad"])) == (
        "labels angry happy, this run asks for labels angry sad"
    )


def test_a_folder_with_an_earlier_runs_files_but_no_identity_is_refused(tmp_path):
    (tmp_path / "checkpoint-4").mkdir()
    (tmp_path / "all_results.json").write_text("{}")
    problem = output_dir_problem(str(tmp_path), _identity(), overwrite=False)
    assert problem == (
        f"--output_dir {tmp_path} holds an earlier run's files (all_results.json, checkpoint-4) but no "
        f"{RUN_IDENTITY_FILE} to tell whether it is this run: {REFUSED}"
    )
    assert output_dir_problem(str(tmp_path), _identity(), overwrite=True) is None


def test_an_identity_that_is_not_an_object_is_one_line(tmp_path):
    (tmp_path / "splits.json").write_text("{}")
    (tmp_path / RUN_IDENTITY_FILE).write_text("[1, 2]")
    with pytest.raises(
        ConfigurationError, match=f"does not say which run the folder holds .a JSON list.: {REFUSED}"
    ):
        output_dir_problem(str(tmp_path), _identity(), overwrite=False)


def test_a_folder_holding_only_a_stopped_runs_identity_is_free(tmp_path):
    """A run that stopped before writing anything (a typo found after the folder was claimed) leaves nothing to
    mix up: the corrected run takes the folder."""
    (tmp_path / RUN_IDENTITY_FILE).write_text(json.dumps(_identity("--fold", "1")))
    (tmp_path / "notes.txt").write_text("not a run's file")
    assert output_dir_problem(str(tmp_path), _identity(), overwrite=False) is None


def test_overwrite_removes_what_a_run_writes_and_nothing_else(tmp_path):
    out = tmp_path / "out"
    for folder in ("checkpoint-2/x", "fold_0", "final"):
        (out / folder).mkdir(parents=True)
    for name in ("all_results.json", "predictions.json", HEAD_FILE, "model.safetensors", "cv_summary.json"):
        (out / name).write_text("old")
    (out / RUN_IDENTITY_FILE).write_text(json.dumps(_identity("--fold", "1")))
    (out / "notes.txt").write_text("the user's")
    args = finetune.parse_args(["--output_dir", str(out), "--overwrite_output_dir"])[2]
    claim_output_dir(args, _identity())
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", RUN_IDENTITY_FILE]
    assert json.loads((out / RUN_IDENTITY_FILE).read_text()) == _identity()


def test_overwrite_does_not_delete_what_the_run_reads(tmp_path):
    checkpoint = tmp_path / "checkpoint-4"  # a real checkpoint: a missing one is refused when parsing
    checkpoint.mkdir()
    (checkpoint / "trainer_state.json").write_text("{}")
    resume = ["--resume_from_checkpoint", str(checkpoint)]
    args = finetune.parse_args(["--output_dir", str(tmp_path), "--overwrite_output_dir", *resume])[2]
    with pytest.raises(
        ConfigurationError, match="checkpoint-4 lies in --output_dir .*, which --overwrite_output_dir"
    ):
        claim_output_dir(args, _identity())
    # a trained model continued into its own folder
    (tmp_path / "config.json").write_text("{}")
    args = finetune.parse_args(["--output_dir", str(tmp_path), "--overwrite_output_dir"])[2]
    with pytest.raises(ConfigurationError, match=f"--model_name_or_path {tmp_path} lies in --output_dir"):
        claim_output_dir(args, {**_identity(), "model_name_or_path": str(tmp_path)})
    assert (tmp_path / "config.json").is_file()
