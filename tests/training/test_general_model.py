"""The general model: folds stratified per corpus, per-corpus test UA, a final model on every speaker."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import finetune
from hf_emotion.corpora import load_corpora
from hf_emotion.data.splits import make_split
from hf_emotion.evaluation.reports import per_corpus_ua
from hf_emotion.model.modeling_emotion import EmotionModel
from hf_emotion.training.final_model import choose_final_epochs, mean_class_mixing
from hf_emotion.training.temperature import mean_temperature


def test_final_epochs_are_the_folds_median_best_epochs_rounded_up():
    folds = [
        {"probe_best_epoch": 40, "fine_tune_best_epoch": 3.0, "refit_best_epoch": 0},
        {"probe_best_epoch": 60, "fine_tune_best_epoch": 5.0, "refit_best_epoch": 12},
        {"probe_best_epoch": 51, "fine_tune_best_epoch": 6.0, "refit_best_epoch": 30},
        {"probe_best_epoch": 20, "fine_tune_best_epoch": 4.0, "refit_best_epoch": 0},
    ]
    assert choose_final_epochs(folds, 6) == {"probe": 46, "fine_tune": 5, "refit": 6}


def test_final_temperature_is_the_folds_geometric_mean():
    assert mean_temperature([{"temperature": 0.5}, {"temperature": 2.0}]) == pytest.approx(1.0)
    assert mean_temperature([{"temperature": 1.5}, {}]) == pytest.approx(1.5)
    assert mean_temperature([{}, {}]) == 1.0  # no fold fitted one (--temperature_scaling false)


def test_final_model_is_the_probe_alone_when_most_folds_kept_the_probe():
    folds = [{"probe_best_epoch": 10, "fine_tune_best_epoch": 2.0, "probe_selected": True}] * 2
    folds += [{"probe_best_epoch": 30, "fine_tune_best_epoch": 4.0, "probe_selected": False}]
    assert choose_final_epochs(folds, 6) == {"probe": 10, "fine_tune": 0, "refit": 0}


def test_final_epochs_fall_back_to_num_train_epochs_when_no_fold_recorded_a_best_epoch():
    chosen = choose_final_epochs([{"fine_tune_best_epoch": None}] * 3, 6)
    assert chosen == {"probe": 0, "fine_tune": 6, "refit": 0}


def test_class_mixing_weights_are_the_folds_mean():
    folds = [{"class_mixing_weight_valence": 0.5}, {"class_mixing_weight_valence": 1.0}]
    assert mean_class_mixing(folds) == {"class_mixing_weight_valence": 0.75}


def test_per_corpus_ua_groups_test_clips_by_corpus():
    record = {
        "label_names": ["angry", "sad"],
        "y_true": [0, 1, 0, 1],
        "y_pred": [0, 1, 1, 1],
        "corpora": ["ravdess", "ravdess", "crema_d", "crema_d"],
    }
    assert per_corpus_ua(record) == {"eval_ua_crema_d": 0.5, "eval_ua_ravdess": 1.0}
    assert per_corpus_ua({**record, "corpora": ["ravdess"] * 4}) == {}


def test_every_test_fold_holds_speakers_of_every_corpus(ravdess_dir, crema_d_dir):
    dataset = load_corpora(["ravdess", "crema_d"], [str(ravdess_dir), str(crema_d_dir)])
    for fold in range(3):
        split = make_split(dataset, num_folds=3, fold=fold)
        assert {s.split("-")[0] for s in split.test} == {"ravdess", "crema_d"}, split.test


@pytest.fixture(scope="module")
def general_run(tmp_path_factory, ravdess_dir, crema_d_dir, tiny_wav2vec2_dir):
    out = tmp_path_factory.mktemp("general") / "run"
    summary = finetune.main(
        [
            "--model_name_or_path", str(tiny_wav2vec2_dir),
            "--dataset", "ravdess", "crema_d",
            "--data_dir", str(ravdess_dir), str(crema_d_dir),
            "--num_folds", "3",
            "--cross_validation", "true",
            "--final_model", "true",
            "--speaker_adaptive_head", "true",
            "--num_train_epochs", "2",
            "--linear_probe_epochs", "2",
            "--refit_heads_epochs", "2",
            "--max_audio_seconds", "2",
            "--output_dir", str(out),
            "--per_device_train_batch_size", "16",
            "--per_device_eval_batch_size", "32",
            "--save_total_limit", "1",
            # Best epoch by validation loss: the probe is then never weighed against fine-tuning by UA, so
            # the final model fine-tunes on every machine (a tiny random probe can win by UA on one CPU and
            # lose on another).
            "--metric_for_best_model", "eval_loss",
            "--greater_is_better", "false",
        ]
    )  # fmt: skip
    return out, summary


def test_cross_validation_reports_each_corpus_test_ua(general_run):
    out, _ = general_run
    cv = json.loads((out / "cv_summary.json").read_text())
    for fold in cv["folds"]:
        assert 0.0 <= fold["eval_ua_ravdess"] <= 1.0 and 0.0 <= fold["eval_ua_crema_d"] <= 1.0
    assert cv["summary"]["eval_ua_crema_d"]["n"] == 3
    assert "eval_ua_ravdess" in (out / "cv_summary.md").read_text()


def test_final_model_trains_on_every_speaker_with_the_folds_epochs(general_run):
    out, summary = general_run
    cv = json.loads((out / "cv_summary.json").read_text())
    final = json.loads((out / "final" / "all_results.json").read_text())
    chosen = choose_final_epochs(cv["folds"], 2)
    assert {k: final[f"final_{k}_epochs"] for k in chosen} == chosen
    assert final["final_num_speakers"] == 8 + 6
    exported = json.loads((out / "splits.json").read_text())  # the run's model heard every speaker
    assert exported["protocol"] == "all_speakers" and len(exported["train"]) == 8 + 6
    # The encoder was fine-tuned, not only probed.
    assert chosen["fine_tune"] >= 1 and final["train_runtime"] > 0
    assert summary["final_fine_tune_epochs"] == chosen["fine_tune"]
    model = EmotionModel.from_pretrained(out / "final")
    assert model.config.num_labels == len(model.config.id2label)
    assert model.config.temperature == pytest.approx(mean_temperature(cv["folds"]))
    assert final["temperature"] == pytest.approx(model.config.temperature)
    # The run folder's model is the final one, not a fold's.
    assert (out / "model.safetensors").read_bytes() == (out / "final" / "model.safetensors").read_bytes()


def test_final_model_has_a_speaker_adaptive_head_with_the_folds_median_c(general_run):
    from hf_emotion.serving.speaker_adaptive import HEAD_FILE, SpeakerAdaptiveHead

    out, _ = general_run
    cv = json.loads((out / "cv_summary.json").read_text())
    folds_c = sorted(fold["adaptive_C"] for fold in cv["folds"])
    final = json.loads((out / "final" / "all_results.json").read_text())
    assert final["final_adaptive_C"] == folds_c[1]  # the median of 3
    head = SpeakerAdaptiveHead.load(out / "final")
    assert head.C == folds_c[1]
    # Fitted on every speaker, not a fold's: its head differs from each fold's.
    for fold in range(3):
        assert not np.allclose(head.coef, SpeakerAdaptiveHead.load(out / f"fold_{fold}").coef)
    # The run folder (the model the demo serves) carries it, so calibration works there.
    assert (out / HEAD_FILE).read_bytes() == (out / "final" / HEAD_FILE).read_bytes()


def test_final_model_card_lists_each_corpus_and_says_it_has_no_held_out_score(general_run):
    out, _ = general_run
    card = (out / "final" / "README.md").read_text()
    assert "no held-out score" in card
    cv = json.loads((out / "cv_summary.json").read_text())["summary"]
    for corpus in ("ravdess", "crema_d"):
        assert f"| {corpus} | {cv[f'eval_ua_{corpus}']['mean']:.3f} ±" in card
    assert (out / "README.md").read_text() == card


def test_demo_serves_the_general_model_before_the_ravdess_one(tmp_path, monkeypatch):
    from hf_emotion.app import demo as demo_app
    from hf_emotion.serving import default_model

    monkeypatch.delenv(default_model.MODEL_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    for folder in (default_model.DEFAULT_MODEL_DIR, default_model.GENERAL_MODEL_DIR):
        (tmp_path / folder).mkdir(parents=True)
    assert demo_app.resolve_model() == "outputs/whisper-tiny.en-general"


def test_general_run_file_trains_every_corpus_with_a_final_model():
    values = json.loads((Path(__file__).parents[2] / "configs" / "whisper-tiny.en-general.json").read_text())
    assert values["dataset"] == ["ravdess", "ravdess", "crema_d"] and len(values["data_dir"]) == 3
    assert values["cross_validation"] and values["final_model"]


def test_final_model_needs_cross_validation(tmp_path):
    with pytest.raises(ValueError, match="--final_model .* add --cross_validation"):
        finetune.main(["--final_model", "true", "--output_dir", str(tmp_path)])
