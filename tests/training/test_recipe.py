"""The recipe's decisions, as pure functions, and ``hf-emotion train`` running it from the installed library."""

from __future__ import annotations

import json
import math
import re

import pytest
from transformers import Trainer

from benchmarks import run_finetune
from hf_emotion.cli import main as cli_main
from hf_emotion.training import placement
from hf_emotion.training.finetune import main as finetune_main
from hf_emotion.training.heads import choose_heads
from hf_emotion.training.trainer import EmotionTrainer

FINE_TUNED = dict(refit_ua=None, refit_improved=False, compare_by_ua=True)


def test_the_probe_is_kept_only_when_it_beats_the_fine_tuned_model_on_validation():
    assert choose_heads(probe_ua=0.8, fine_tuned_ua=0.7, **FINE_TUNED) == "probe"
    assert choose_heads(probe_ua=0.7, fine_tuned_ua=0.8, **FINE_TUNED) == "fine-tuned"
    assert (
        choose_heads(probe_ua=0.7, fine_tuned_ua=0.7, **FINE_TUNED) == "fine-tuned"
    )  # a tie keeps fine-tuning
    # no evaluation during training: nothing to weigh the probe against but itself
    assert choose_heads(probe_ua=0.5, fine_tuned_ua=None, **FINE_TUNED) == "probe"


def test_the_probe_is_weighed_against_the_refitted_model_not_the_crop_trained_heads():
    refit = dict(refit_ua=0.85, compare_by_ua=True)
    assert choose_heads(probe_ua=0.8, fine_tuned_ua=0.7, refit_improved=True, **refit) == "refit"
    assert choose_heads(probe_ua=0.9, fine_tuned_ua=0.7, refit_improved=True, **refit) == "probe"
    # the refit kept the fine-tuned heads (no refitted epoch beat them): the fine-tuned model stays
    assert choose_heads(probe_ua=0.8, fine_tuned_ua=0.85, refit_improved=False, **refit) == "fine-tuned"


def test_without_a_probe_or_a_ua_to_compare_the_probe_is_never_kept():
    assert choose_heads(
        probe_ua=None, fine_tuned_ua=0.2, refit_ua=0.3, refit_improved=True, compare_by_ua=True
    ) == ("refit")
    # best epoch chosen by another metric (or no best model loaded): a UA cannot be weighed against it
    assert (
        choose_heads(
            probe_ua=0.9, fine_tuned_ua=0.1, refit_ua=None, refit_improved=False, compare_by_ua=False
        )
        == "fine-tuned"
    )


def test_hf_emotion_train_runs_the_recipe_without_the_script(
    tmp_path, ravdess_dir, tiny_wav2vec2_dir, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # no finetune.py here: the command imports the library's main
    out = tmp_path / "run"
    code = cli_main(
        [
            "train",
            "--model_name_or_path",
            str(tiny_wav2vec2_dir),
            "--data_dir",
            str(ravdess_dir),
            "--num_folds",
            "4",
            "--output_dir",
            str(out),
            "--max_steps",
            "1",
            "--linear_probe_epochs",
            "0",
            "--refit_heads_epochs",
            "0",
            "--eval_strategy",
            "no",
            "--save_strategy",
            "no",
            "--load_best_model_at_end",
            "false",
        ]
    )
    assert code == 0
    assert 0.0 <= json.loads((out / "all_results.json").read_text())["eval_ua"] <= 1.0


@pytest.mark.parametrize("flag", ["--learning_rate", "--head_learning_rate"])
def test_hf_emotion_train_passes_bad_flags_to_the_parser(flag, tmp_path):
    with pytest.raises(SystemExit):
        cli_main(["train", flag, "not-a-number", "--output_dir", str(tmp_path)])


# Folds no dealing would make (RAVDESS deals 01-02, 03-04, ... by gender), so the run can only have read them.
FOLDS = [["ravdess-01", "ravdess-05"], ["ravdess-06", "ravdess-08"], ["ravdess-03", "ravdess-07"]]
FOLDS.append(["ravdess-02", "ravdess-04"])
PHASES = (
    "loading",
    "decoding",
    "finding_speech",
    "model_loading",
    "probe_encoding",
    "probe_fit",
    "epoch_1",
    "validation_1",
    "checkpoint_1",
    "epoch_2",
    "validation_2",
    "checkpoint_2",
    "refit_encoding",
    "refit_fit",
    "class_mixing",
    "temperature_scaling",
    "speaker_adaptive",
    "final_validation",
    "test",
    "export",
)


@pytest.fixture(scope="module")
def timed_run(tmp_path_factory, ravdess_dir, tiny_wav2vec2_dir):
    """Fold 1 of a folds file, every step of the recipe on, on a CPU that says it computes bf16 natively."""
    tmp_path = tmp_path_factory.mktemp("timed-run")
    folds_file = tmp_path / "folds.json"
    folds_file.write_text(json.dumps(FOLDS))
    argv = ["--model_name_or_path", str(tiny_wav2vec2_dir), "--data_dir", str(ravdess_dir)]
    argv += [
        "--folds_file",
        str(folds_file),
        "--fold",
        "1",
        "--num_train_epochs",
        "2",
        "--learning_rate",
        "1e-3",
    ]
    argv += ["--linear_probe_epochs", "2", "--refit_heads_epochs", "2", "--speaker_adaptive_head", "true"]
    argv += ["--max_train_seconds", "1", "--max_eval_seconds", "1", "--per_device_eval_batch_size", "16"]
    argv += ["--output_dir", str(tmp_path / "run")]
    passes = []  # the prediction passes after training, by metric prefix

    def predict(trainer, dataset, *args, metric_key_prefix="test", **kwargs):
        passes.append((metric_key_prefix, len(dataset)))
        return Trainer.predict(trainer, dataset, *args, metric_key_prefix=metric_key_prefix, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(placement, "cpu_flags", lambda: {"avx2", "avx512_bf16"})
        patch.setattr(placement, "has_accelerator", lambda: False)
        patch.setattr(EmotionTrainer, "predict", predict)
        finetune_main(argv)
    results = json.loads((tmp_path / "run" / "all_results.json").read_text())
    results["prediction_passes"] = passes
    return argv, tmp_path / "run", results


def test_a_folds_file_run_tests_exactly_its_fold(timed_run):
    _, run_dir, results = timed_run
    split = json.loads((run_dir / "splits.json").read_text())
    assert split["test"] == results["test_speakers"] == sorted(FOLDS[1])
    assert split["validation"] == sorted(FOLDS[2])
    assert set(json.loads((run_dir / "predictions.json").read_text())["speakers"]) == set(FOLDS[1])


def test_class_mixing_and_temperature_share_one_pass_over_the_validation_clips(timed_run):
    results = timed_run[2]
    (shared, clips), (final, validation_clips), (test, _) = results["prediction_passes"]
    assert (shared, final, test) == ("pass", "validation", "eval")  # nothing else predicted after training
    assert clips == validation_clips
    assert results["temperature"] > 0 and any(k.startswith("class_mixing_weight_") for k in results)


def test_the_cpu_with_native_bf16_trains_the_fold_in_bf16(timed_run):
    assert timed_run[2]["precision"] == "bf16"


def test_every_phase_of_the_fold_is_timed_within_its_wall_time(timed_run):
    results = timed_run[2]
    assert [p["phase"] for p in results["phases"]] == list(PHASES)
    # Temperature scaling fits one number on the logits of class mixing's pass: it may take less than the
    # millisecond phases are rounded to.
    instant = {"temperature_scaling"}
    for phase in PHASES:
        assert results[f"time_{phase}_s"] > 0 or (phase in instant and results[f"time_{phase}_s"] == 0), phase
    assert sum(p["seconds"] for p in results["phases"]) <= results["fold_wall_s"]
    assert math.isclose(
        sum(results[f"time_{p}_s"] for p in PHASES), sum(p["seconds"] for p in results["phases"])
    )


def test_collect_carries_the_phase_times_into_finetune_json(timed_run, tmp_path):
    argv, run_dir, results = timed_run
    code = run_finetune.main(
        ["collect", str(run_dir), "--config", " ".join(argv), "--results_dir", str(tmp_path)]
    )
    assert code == 0
    entry = json.loads((tmp_path / "finetune.json").read_text())["runs"][run_dir.name]
    fold = entry["folds"][0]
    assert fold["phases"] == results["phases"] and fold["precision"] == "bf16"
    assert fold["time_epoch_2_s"] == results["time_epoch_2_s"]
    assert entry["summary"]["time_probe_encoding_s"]["mean"] == results["time_probe_encoding_s"]
    assert entry["summary"]["fold_wall_s"]["mean"] == results["fold_wall_s"]


@pytest.mark.parametrize(
    ("folds", "message"),
    [
        ([["ravdess-01"], ["ravdess-02"]], "has 2 fold\\(s\\)"),
        ([["ravdess-0" + str(i)] for i in range(1, 8)], "puts speakers of the data in no fold: ravdess-08"),
    ],
)
def test_hf_emotion_train_refuses_a_bad_folds_file_in_one_line(
    folds, message, tmp_path, ravdess_dir, tiny_wav2vec2_dir, capsys
):
    folds_file = tmp_path / "folds.json"
    folds_file.write_text(json.dumps(folds))
    argv = ["train", "--model_name_or_path", str(tiny_wav2vec2_dir), "--data_dir", str(ravdess_dir)]
    code = cli_main([*argv, "--folds_file", str(folds_file), "--output_dir", str(tmp_path / "run")])
    error = capsys.readouterr().err.strip()
    assert code == 2 and error.startswith(f"error: --folds_file {folds_file}") and "\n" not in error
    assert re.search(message, error), error
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())  # refused before training
