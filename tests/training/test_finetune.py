"""finetune.py end to end on synthetic corpora with tiny random encoders: files, splits, bad clips, resume."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoFeatureExtractor

import finetune
from hf_emotion.cli import main as cli_main
from hf_emotion.data.audio import decode_audio
from hf_emotion.data.targets import CIRCUMPLEX
from hf_emotion.evaluation.speaker_normalisation import SPEAKER_PROBE_CS
from hf_emotion.model.modeling_emotion import EmotionModel
from hf_emotion.training.checkpoints import last_complete_checkpoint
from hf_emotion.training.class_mixing import CLASS_MIXING_WEIGHTS, choose_class_mixing, class_mean_targets
from tests.conftest import real_data_dir, tiny_wav2vec2_config
from tests.synth import emotion_signal, write_audio

REPO = Path(__file__).resolve().parents[2]
HEADLINE = ("eval_ua", "eval_wa", "eval_macro_f1", "eval_ccc_valence", "eval_ccc_arousal")


def _common(output_dir, *extra):
    return [
        "--output_dir",
        str(output_dir),
        "--per_device_train_batch_size",
        "8",
        "--per_device_eval_batch_size",
        "16",
        "--logging_steps",
        "2",
        "--save_total_limit",
        "1",
        *extra,
    ]


def _check_split(path: Path) -> dict:
    split = json.loads(path.read_text())
    sets = [set(split[k]) for k in ("train", "validation", "test")]
    assert all(sets), split
    assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])
    return split


@pytest.fixture(scope="module")
def wav2vec2_run(tmp_path_factory, ravdess_dir, tiny_wav2vec2_dir):
    """One fold of a tiny wav2vec2 on synthetic RAVDESS with two unusable files: (data dir, run dir, results)."""
    tmp_path = tmp_path_factory.mktemp("wav2vec2-run")
    data = tmp_path / "data"
    shutil.copytree(ravdess_dir, data)
    (data / "Actor_03" / "03-01-05-01-01-02-03.wav").write_text("I am a text file, not audio")
    good = (data / "Actor_04" / "03-01-05-01-01-01-04.wav").read_bytes()
    (data / "Actor_04" / "03-01-05-01-01-02-04.wav").write_bytes(good[:30])  # corrupt: truncated header
    out = tmp_path / "run"
    results = finetune.main(
        [
            "--model_name_or_path",
            str(tiny_wav2vec2_dir),
            "--dataset",
            "ravdess",
            "--data_dir",
            str(data),
            "--num_folds",
            "4",
            "--fold",
            "1",
            "--max_steps",
            "6",
            "--learning_rate",
            "1e-3",
            *_common(out),
        ]
    )
    return data, out, results


def test_finetune_reports_bad_files_and_writes_its_results_split_and_predictions(wav2vec2_run):
    _, out, results = wav2vec2_run
    written = json.loads((out / "all_results.json").read_text())
    for key in HEADLINE:
        assert key in written and np.isfinite(written[key]), key
    assert written["eval_ua"] == results["eval_ua"]
    assert "validation_ua" in written and "eval_spknorm_ua" in written
    skipped = {Path(f["path"]).name for f in written["skipped_files"]}
    assert skipped == {"03-01-05-01-01-02-03.wav", "03-01-05-01-01-02-04.wav"}
    assert written["num_skipped_files"] == 2

    split = _check_split(out / "splits.json")
    assert split["protocol"] == "speaker_folds" and split["fold"] == 1
    assert split["test"] == ["ravdess-03", "ravdess-04"]
    predictions = json.loads((out / "predictions.json").read_text())
    assert set(predictions["speakers"]) == set(split["test"])
    # 2 actors × 15 good clips; the 2 bad ones skipped
    assert len(predictions["y_true"]) == len(predictions["y_pred"]) == 30
    for name in (
        "confusion_matrix.png",
        "valence_arousal.png",
        "README.md",
        "config.json",
        "model.safetensors",
    ):
        assert (out / name).is_file(), name
    assert "Speaker-independent" in (out / "README.md").read_text()


def test_finetuned_folder_loads_and_predicts_a_new_file(wav2vec2_run, tmp_path):
    _, out, _ = wav2vec2_run
    model = EmotionModel.from_pretrained(out).eval()
    extractor = AutoFeatureExtractor.from_pretrained(out)
    clip = write_audio(tmp_path / "new.flac", emotion_signal("angry", 1.3, 44100), 44100)
    audio = decode_audio(clip, extractor.sampling_rate)
    inputs = extractor(
        audio, sampling_rate=extractor.sampling_rate, return_tensors="pt", return_attention_mask=True
    )
    with torch.inference_mode():
        output = model(**inputs)
    assert output.logits.shape == (1, 8)
    assert (
        model.config.id2label[int(output.logits.argmax())]
        in json.loads((out / "predictions.json").read_text())["label_names"]
    )
    assert torch.all(output.valence_arousal.abs() <= 1)


def test_temperature_is_fitted_saved_and_reported_before_and_after(wav2vec2_run):
    """Fitted on the validation speakers, kept in the model's config (so every scorer applies it), and the
    test speakers' calibration reported with and without it."""
    _, out, _ = wav2vec2_run
    written = json.loads((out / "all_results.json").read_text())
    temperature = written["temperature"]
    assert json.loads((out / "config.json").read_text())["temperature"] == pytest.approx(temperature)
    assert 0.05 <= temperature <= 20.0
    for prefix in ("eval", "validation"):
        for name in ("ece", "nll", "wrong_over_0.9"):
            assert f"{prefix}_{name}" in written and f"{prefix}_{name}_before_temperature" in written
    # The fit minimises the validation NLL: it can only have lowered it.
    assert written["validation_nll"] <= written["validation_nll_before_temperature"] + 1e-6


def test_class_mixing_is_saved_and_only_raises_validation_ccc(wav2vec2_run):
    """The class coordinates are the training clips' mean targets (a proxy valence does not depend on
    intensity, so it is the circumplex's), and the weight chosen on validation can only have raised the
    validation CCC above the regressor's own."""
    _, out, _ = wav2vec2_run
    written = json.loads((out / "all_results.json").read_text())
    model = EmotionModel.from_pretrained(out)
    label_names = json.loads((out / "predictions.json").read_text())["label_names"]
    for name, row in zip(label_names, model.config.class_valence_arousal, strict=True):
        assert row[0] == pytest.approx(CIRCUMPLEX[name][0], abs=1e-5), name
    for target in ("valence", "arousal"):
        assert written[f"class_mixing_weight_{target}"] in CLASS_MIXING_WEIGHTS
        assert written[f"validation_ccc_{target}"] >= written[f"validation_ccc_{target}_regressor"] - 1e-6
    assert model.config.valence_arousal_class_weight == [
        written["class_mixing_weight_valence"],
        written["class_mixing_weight_arousal"],
    ]


def test_evaluate_on_the_run_split_reproduces_its_test_score(wav2vec2_run, tmp_path, capsys):
    """`hf-emotion evaluate` on the run's test speakers gives the run's own test score, and the transductive
    speaker-normalised probe is fitted on the split's training and validation speakers."""
    data, out, _ = wav2vec2_run
    written = json.loads((out / "all_results.json").read_text())
    evaluated = tmp_path / "evaluated"
    common = ["evaluate", "--model", str(out), "--data_dir", str(data), "--output_dir", str(evaluated)]
    code = cli_main(
        [*common, "--dataset", "ravdess", "--split_file", str(out / "splits.json"), "--speaker_norm_probe"]
    )
    assert code == 0
    again = json.loads((evaluated / "all_results.json").read_text())
    assert again["eval_ua"] == pytest.approx(written["eval_ua"], abs=1e-6)
    assert 0.0 <= again["eval_spkprobe_ua"] <= 1.0 and 0.0 <= again["validation_spkprobe_ua"] <= 1.0
    assert again["spkprobe_C"] in SPEAKER_PROBE_CS and 0.0 <= again["eval_lrprobe_ua"] <= 1.0
    assert {f["path"] for f in again["skipped_files"]} == {f["path"] for f in written["skipped_files"]}
    capsys.readouterr()
    status = cli_main([*common, "--speaker_norm_probe"])
    assert status == 2 and "--speaker_norm_probe needs --split_file" in capsys.readouterr().err


def test_finetune_whisper_cross_validation_from_run_file(tmp_path, ravdess_dir, tiny_whisper_dir):
    run_file = tmp_path / "run.json"
    run_file.write_text(
        json.dumps(
            {
                "model_name_or_path": str(tiny_whisper_dir),
                "dataset": ["ravdess"],
                "data_dir": ["/nonexistent, overridden below"],
                "num_folds": 4,
                "cross_validation": True,
                "max_steps": 2,
                "freeze_encoder_epochs": 0.5,
                "linear_probe_epochs": 2,
                "mask_time_prob": 0.1,
                "mask_feature_prob": 0.1,
                "mask_feature_length": 8,
            }
        )
    )
    out = tmp_path / "cv"
    summary = finetune.main([str(run_file), "--data_dir", str(ravdess_dir), *_common(out)])
    tests = []
    for fold in range(4):
        fold_dir = out / f"fold_{fold}"
        results = json.loads((fold_dir / "all_results.json").read_text())
        assert all(key in results for key in HEADLINE)
        assert 1 <= results["probe_best_epoch"] <= 2 and 0 <= results["probe_validation_ua"] <= 1
        tests.append(set(_check_split(fold_dir / "splits.json")["test"]))
        assert (fold_dir / "confusion_matrix.png").is_file()
    # Every speaker is tested exactly once over the folds.
    assert sorted(s for t in tests for s in t) == [f"ravdess-{i:02d}" for i in range(1, 9)]
    cv = json.loads((out / "cv_summary.json").read_text())
    assert len(cv["folds"]) == 4 and cv["summary"]["eval_ua"]["n"] == 4
    assert summary["eval_ua"] == pytest.approx(np.mean([f["eval_ua"] for f in cv["folds"]]))
    assert "eval_ua" in (out / "cv_summary.md").read_text()
    assert (out / "confusion_matrix.png").is_file()
    # The run folder holds the fold model that did best on validation, loadable as is.
    best = int(np.argmax([f["validation_ua"] for f in cv["folds"]]))
    assert (out / "model.safetensors").read_bytes() == (
        out / f"fold_{best}" / "model.safetensors"
    ).read_bytes()
    # ... with the speakers it heard and was tested on, as each fold keeps them.
    assert (out / "splits.json").read_text() == (out / f"fold_{best}" / "splits.json").read_text()
    trained = EmotionModel.from_pretrained(out)
    assert trained.config.is_whisper
    # SpecAugment was on while training and is saved with the model (prediction never masks)
    encoder_config = trained.config.encoder_config
    assert encoder_config.apply_spec_augment and encoder_config.mask_time_prob == 0.1
    assert (encoder_config.mask_feature_prob, encoder_config.mask_feature_length) == (0.1, 8)
    assert "Cross-validation" in (out / "README.md").read_text()


def test_finetune_learns_the_synthetic_task(tmp_path, ravdess_dir):
    """Overfitting check: a tiny encoder must beat chance clearly on the synthetic emotions."""
    from transformers import Wav2Vec2FeatureExtractor, Wav2Vec2Model

    torch.manual_seed(0)
    encoder = tmp_path / "enc"
    Wav2Vec2Model(tiny_wav2vec2_config()).save_pretrained(encoder)
    Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=True).save_pretrained(encoder)
    results = finetune.main(
        [
            "--model_name_or_path",
            str(encoder),
            "--dataset",
            "ravdess",
            "--data_dir",
            str(ravdess_dir),
            "--num_folds",
            "4",
            "--random_split",
            "--num_train_epochs",
            "12",
            "--learning_rate",
            "3e-3",
            "--head_learning_rate",
            "3e-3",
            "--eval_strategy",
            "no",
            "--save_strategy",
            "no",
            "--load_best_model_at_end",
            "false",
            *_common(tmp_path / "fit"),
        ]
    )
    assert results["train_loss"] < 2.0
    assert results["validation_wa"] > 0.3  # chance is 0.125


def test_killed_run_resumes_from_its_checkpoint(tmp_path, ravdess_dir, tiny_wav2vec2_dir):
    out = tmp_path / "resume"
    args = [
        sys.executable,
        str(REPO / "finetune.py"),
        "--model_name_or_path",
        str(tiny_wav2vec2_dir),
        "--dataset",
        "ravdess",
        "--data_dir",
        str(ravdess_dir),
        "--num_folds",
        "4",
        "--max_steps",
        "16",
        "--eval_strategy",
        "no",
        "--load_best_model_at_end",
        "false",
        "--save_strategy",
        "steps",
        "--save_steps",
        "4",
        *_common(out),
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    first = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 180
    while time.time() < deadline and first.poll() is None:
        if (out / "checkpoint-4" / "trainer_state.json").exists():
            break
        time.sleep(0.05)
    assert first.poll() is None, "training ended before it could be interrupted"
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert not (out / "all_results.json").exists()
    checkpoints = sorted(p.name for p in out.glob("checkpoint-*"))
    assert checkpoints and "checkpoint-16" not in checkpoints
    # The kill may land while a checkpoint is being written (the Trainer writes trainer_state.json
    # last); make sure one is: the folder and the model's config exist, the weights, optimiser
    # and trainer state do not.
    last = max(int(c.split("-")[1]) for c in checkpoints if (out / c / "trainer_state.json").exists())
    cut_short = out / f"checkpoint-{last + 4}"
    cut_short.mkdir(exist_ok=True)
    for name in ("trainer_state.json", "model.safetensors", "optimizer.pt"):
        (cut_short / name).unlink(missing_ok=True)
    shutil.copy(out / f"checkpoint-{last}" / "config.json", cut_short / "config.json")

    # The resumed run goes through `accelerate launch`, as users start it.
    launch = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--num_processes",
        "1",
        "--num_machines",
        "1",
    ]
    launch += ["--mixed_precision", "no", "--dynamo_backend", "no", "--cpu", *args[1:]]
    second = subprocess.run(
        [*launch, "--resume_from_checkpoint", "true"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    log = second.stdout + second.stderr
    assert f"{cut_short} is incomplete" in log
    assert f"Resuming from {out / f'checkpoint-{last}'}\n" in log
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["global_step"] == 16
    assert json.loads((out / "all_results.json").read_text())["eval_ua"] >= 0


def test_resuming_skips_checkpoints_cut_short(tmp_path, caplog):
    assert last_complete_checkpoint(str(tmp_path / "not-yet")) is None
    for step, state in ((2, '{"global_step": 2}'), (9, None), (10, '{"global_step": 1')):
        (tmp_path / f"checkpoint-{step}").mkdir()
        if state is not None:
            (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text(state)
    (tmp_path / "checkpoint-11").write_text("a file, not a checkpoint")
    (tmp_path / "checkpoint-final").mkdir()
    with caplog.at_level("WARNING", logger="hf_emotion.training.checkpoints"):
        assert last_complete_checkpoint(str(tmp_path)) == str(tmp_path / "checkpoint-2")
    # newest first, by step number (10 before 9): both named as incomplete, the cut-short JSON too
    warned = [r.getMessage() for r in caplog.records]
    assert [m.split(" is incomplete")[0] for m in warned] == [
        str(tmp_path / "checkpoint-10"),
        str(tmp_path / "checkpoint-9"),
    ]


def test_bad_arguments_say_what_to_do(tmp_path, ravdess_dir, tiny_wav2vec2_dir):
    with pytest.raises(ValueError, match="one --data_dir per --dataset"):
        finetune.main(
            ["--dataset", "ravdess", "crema_d", "--data_dir", str(ravdess_dir), "--output_dir", str(tmp_path)]
        )
    with pytest.raises(ValueError, match="--fold must lie"):
        finetune.main(["--fold", "7", "--num_folds", "6", "--output_dir", str(tmp_path)])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        finetune.main(
            [
                "--model_name_or_path",
                str(tiny_wav2vec2_dir),
                "--data_dir",
                str(tmp_path / "nope"),
                "--output_dir",
                str(tmp_path),
            ]
        )


@pytest.mark.real_data
def test_real_ravdess_speech_six_fold_smoke(tmp_path, tiny_wav2vec2_dir):
    """The acceptance run, shortened: every fold of real RAVDESS speech with a tiny random encoder."""
    data = real_data_dir("ravdess-speech")
    out = tmp_path / "real"
    finetune.main(
        [
            "--model_name_or_path",
            str(tiny_wav2vec2_dir),
            "--dataset",
            "ravdess",
            "--data_dir",
            str(data),
            "--cross_validation",
            "--num_folds",
            "6",
            "--max_steps",
            "2",
            "--max_eval_seconds",
            "1",
            "--eval_strategy",
            "no",
            "--save_strategy",
            "no",
            "--load_best_model_at_end",
            "false",
            *_common(out),
        ]
    )
    seen_test = []
    for fold in range(6):
        split = _check_split(out / f"fold_{fold}" / "splits.json")
        assert len(split["test"]) == 4 and len(split["validation"]) == 4 and len(split["train"]) == 16
        seen_test += split["test"]
        assert all(k in json.loads((out / f"fold_{fold}" / "all_results.json").read_text()) for k in HEADLINE)
    assert sorted(seen_test) == [f"ravdess-{i:02d}" for i in range(1, 25)]
    assert json.loads((out / "cv_summary.json").read_text())["summary"]["eval_ua"]["n"] == 6


def test_linear_probe_fits_only_the_heads_and_the_full_model_reproduces_its_choice(
    tmp_path, ravdess_dir, tiny_wav2vec2_dir
):
    """The LP-FT warm start trains layer weights and heads on cached pooled features; the model it leaves
    must score on the validation clips, through the ordinary forward pass, exactly what the probe reported."""
    from transformers import Wav2Vec2FeatureExtractor

    from hf_emotion.corpora import load_corpora
    from hf_emotion.data.decode_cache import decode_dataset
    from hf_emotion.data.splits import apply_split, make_split
    from hf_emotion.evaluation.metrics import classification_metrics
    from hf_emotion.model.batches import EmotionDataCollator
    from hf_emotion.training.heads import fit_heads_on_pooled_features

    raw = load_corpora(["ravdess"], [str(ravdess_dir)], channel="both")
    names = raw.features["emotion"].names
    dataset, _ = decode_dataset(raw, 16000, cache_dir=tmp_path / "cache")
    dataset = dataset.with_format(
        "numpy", columns=["input_audio", "emotion", "valence", "arousal"], output_all_columns=True
    )
    parts = apply_split(dataset, make_split(dataset, num_folds=4, fold=0))
    torch.manual_seed(0)
    model = EmotionModel.from_encoder_pretrained(tiny_wav2vec2_dir, id2label=dict(enumerate(names)))
    encoder_before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    classifier_before = model.classifier.weight.detach().clone()
    layer_weights_before = model.layer_weights.detach().clone()
    collator = EmotionDataCollator(
        Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=True), False, 20.0
    )

    result = fit_heads_on_pooled_features(
        model, parts["train"], parts["validation"], collator, names, epochs=40, learning_rate=1e-2, seed=0
    )

    assert set(result) == {
        "probe_validation_ua",
        "probe_validation_whole_trimmed_ua",  # whole-clip UA again: no trimmed validation clips given
        "probe_best_epoch",
        "probe_seconds",
        "probe_encoding_seconds",
    }
    assert 1 <= result["probe_best_epoch"] <= 40
    for key, value in model.encoder.state_dict().items():
        torch.testing.assert_close(value, encoder_before[key], rtol=0, atol=0)
    assert not torch.equal(model.classifier.weight, classifier_before)
    assert not torch.equal(model.layer_weights, layer_weights_before)
    assert result["probe_validation_whole_trimmed_ua"] == result["probe_validation_ua"]
    assert result["probe_validation_ua"] > 1.5 / len(names)  # the synthetic emotions are learnable
    model.eval()
    validation = parts["validation"]
    with torch.inference_mode():
        logits = torch.cat(
            [
                model(
                    **{
                        k: v
                        for k, v in collator(
                            [validation[i] for i in range(s, min(s + 8, len(validation)))]
                        ).items()
                        if k in ("input_values", "attention_mask")
                    }
                ).logits
                for s in range(0, len(validation), 8)
            ]
        )
    ua = classification_metrics(np.asarray(validation["emotion"]), logits.argmax(-1).numpy(), names)["ua"]
    assert ua == pytest.approx(result["probe_validation_ua"], abs=1e-9)


def test_the_linear_probe_is_kept_when_fine_tuning_does_worse_on_validation(
    tmp_path, ravdess_dir, tiny_wav2vec2_dir
):
    """A learning rate of 10 wrecks the model in two steps; the fold must fall back to the probe, and the
    probe is weighed against the wrecked model after its heads are refitted (the refit cannot save it)."""
    out = tmp_path / "run"
    finetune.main(
        [
            "--model_name_or_path",
            str(tiny_wav2vec2_dir),
            "--dataset",
            "ravdess",
            "--data_dir",
            str(ravdess_dir),
            "--num_folds",
            "4",
            "--linear_probe_epochs",
            "40",
            "--linear_probe_learning_rate",
            "1e-2",
            "--learning_rate",
            "10",
            "--head_learning_rate",
            "10",
            "--refit_heads_epochs",
            "5",
            "--max_steps",
            "2",
            "--eval_strategy",
            "steps",
            "--eval_steps",
            "2",
            "--save_strategy",
            "steps",
            "--save_steps",
            "2",
            # fp32: the probe's UA comes from features pooled with fp32 heads, the final validation from the
            # Trainer's forward pass; under bf16 autocast the two can differ on a clip near a class boundary.
            "--precision",
            "fp32",
            *_common(out),
        ]
    )
    written = json.loads((out / "all_results.json").read_text())
    assert written["probe_selected"] is True
    assert written["refit_selected"] is False
    assert written["refit_validation_ua"] < written["probe_validation_ua"]
    # what was saved and evaluated is the probe: its validation UA is the probe's own
    assert written["validation_ua"] == pytest.approx(written["probe_validation_ua"], abs=1e-9)
    reloaded = EmotionModel.from_pretrained(out)
    assert torch.isfinite(reloaded.classifier.weight).all()


def test_heads_refitted_on_whole_clips_are_kept_only_when_validation_improves(
    tmp_path, ravdess_dir, tiny_wav2vec2_dir
):
    """Two fine-tuning steps leave near-random heads; the refit on the encoder's whole-clip features must
    beat them on the validation speakers, and the saved model must score exactly what the refit reported."""
    out = tmp_path / "run"
    finetune.main(
        [
            "--model_name_or_path",
            str(tiny_wav2vec2_dir),
            "--dataset",
            "ravdess",
            "--data_dir",
            str(ravdess_dir),
            "--num_folds",
            "4",
            "--max_steps",
            "2",
            "--learning_rate",
            "1e-5",
            "--linear_probe_epochs",
            "0",  # no probe: the refit starts from the fine-tuned heads
            "--refit_heads_epochs",
            "40",
            "--linear_probe_learning_rate",
            "1e-2",
            "--eval_strategy",
            "no",
            "--save_strategy",
            "no",
            "--load_best_model_at_end",
            "false",
            "--precision",
            "fp32",  # the refit's heads run in fp32, the Trainer's under bf16 autocast: see the probe test
            *_common(out),
        ]
    )
    written = json.loads((out / "all_results.json").read_text())
    assert 1 <= written["refit_best_epoch"] <= 40
    assert written["refit_selected"] is True
    assert written["refit_validation_ua"] > written["refit_initial_validation_ua"]
    assert written["refit_validation_ua"] > 1.5 / 8  # the synthetic emotions are learnable
    # What was saved and evaluated (whole clips, the Trainer's prediction loop) is the refitted model.
    assert written["validation_ua"] == pytest.approx(written["refit_validation_ua"], abs=1e-9)
    for key in HEADLINE:
        assert np.isfinite(written[key]), key


def test_class_mixing_weight_is_chosen_by_validation_ccc():
    coordinates = [[0.0, 0.0], [0.8, 0.5], [-0.6, -0.3]]
    labels = np.array([0, 1, 2, 1, 2, 0, 1, 2])
    targets = np.asarray(coordinates)[labels]
    one_hot = np.eye(3)[labels]
    noisy = targets + np.random.default_rng(0).normal(scale=0.4, size=targets.shape)
    # a perfect classifier and a noisy regressor: the class expectation alone
    weights, scores = choose_class_mixing(one_hot, noisy, targets, coordinates)
    assert weights == [1.0, 1.0] and scores.shape == (len(CLASS_MIXING_WEIGHTS), 2)
    assert scores[-1] == pytest.approx([1.0, 1.0])
    # a perfect regressor and a classifier that knows nothing: the regressor alone
    weights, _ = choose_class_mixing(np.full((8, 3), 1 / 3), targets, targets, coordinates)
    assert weights == [0.0, 0.0]
    # both perfect: a tie keeps the regressor
    assert choose_class_mixing(one_hot, targets, targets, coordinates)[0] == [0.0, 0.0]


def test_class_mean_targets_skip_clips_without_targets():
    clips = {
        "emotion": [0, 0, 1, 1, 1],
        "valence": [0.5, 0.3, -0.2, float("nan"), -0.4],
        "arousal": [0.1, 0.3, 0.6, 0.9, 0.2],
    }
    means = class_mean_targets(clips, 2, ["valence", "arousal"])
    assert means == [pytest.approx([0.4, 0.2]), pytest.approx([-0.3, 0.4])]
    assert class_mean_targets(clips, 2, ["arousal"]) == [
        pytest.approx([0.2]),
        pytest.approx([(0.6 + 0.9 + 0.2) / 3], abs=1e-5),  # stored rounded to 5 decimals
    ]
    assert class_mean_targets(clips, 3, ["valence", "arousal"]) is None  # class 2 has no clip


def test_evaluate_an_ensemble_scores_the_mean_of_its_models(
    tmp_path, ravdess_dir, tiny_wav2vec2_dir, tiny_whisper_dir, capsys
):
    """``hf-emotion evaluate --model A --model B``: each model as alone, and the mean of their predictions."""
    from hf_emotion.evaluation.metrics import classification_metrics
    from tests.serving.test_inference import make_emotion_model_dir

    models = [
        make_emotion_model_dir(tiny_wav2vec2_dir, tmp_path / "wav2vec2"),
        make_emotion_model_dir(tiny_whisper_dir, tmp_path / "whisper"),
    ]
    common = [
        "--dataset",
        "ravdess",
        "--data_dir",
        str(ravdess_dir),
        "--speakers",
        "ravdess-01",
        "ravdess-02",
    ]
    alone = []
    for model in models:
        assert (
            cli_main(["evaluate", "--model", str(model), *common, "--output_dir", str(tmp_path / model.name)])
            == 0
        )
        alone.append(
            (
                json.loads((tmp_path / model.name / "all_results.json").read_text()),
                json.loads((tmp_path / model.name / "predictions.json").read_text()),
            )
        )
    out = tmp_path / "both"
    assert cli_main(["evaluate", *(f"--model={m}" for m in models), *common, "--output_dir", str(out)]) == 0
    both = json.loads((out / "all_results.json").read_text())
    record = json.loads((out / "predictions.json").read_text())
    assert both["member_eval_ua"] == [a["eval_ua"] for a, _ in alone]
    assert both["models"] == [str(m) for m in models]
    # The same clips in the same order in every record (one decoded dataset); the ensemble's are the means.
    assert alone[0][1]["paths"] == alone[1][1]["paths"] == record["paths"] and len(record["paths"]) == 30
    mean = (np.asarray(alone[0][1]["probabilities"]) + np.asarray(alone[1][1]["probabilities"])) / 2
    np.testing.assert_allclose(record["probabilities"], mean, atol=1e-5)
    assert both["eval_ua"] == pytest.approx(
        classification_metrics(record["y_true"], mean.argmax(1), record["label_names"])["ua"]
    )
    assert (out / "confusion_matrix.png").is_file() and "eval_spknorm_ua" in both
    status = cli_main(
        [
            "evaluate",
            *(f"--model={m}" for m in models),
            *common,
            "--output_dir",
            str(out),
            "--speaker_norm_probe",
        ]
    )
    assert status == 2 and "give one --model" in capsys.readouterr().err
