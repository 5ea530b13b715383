"""The recipe's decisions, as pure functions, and ``hf-emotion train`` running it from the installed library."""

from __future__ import annotations

import json

import pytest

from hf_emotion.cli import main as cli_main
from hf_emotion.training.heads import choose_heads

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
