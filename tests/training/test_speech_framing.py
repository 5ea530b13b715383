"""--speech_framing_seconds: training crops cut from the speech and framed anew; trimmed validation logged."""

from __future__ import annotations

import json

import numpy as np
import pytest
from transformers import Wav2Vec2FeatureExtractor

import finetune
from hf_emotion.data.framing import TrainingFraming
from hf_emotion.model.batches import EmotionDataCollator

RATE = 16_000


def examples() -> list[dict]:
    """Two clips: a second of silence, two seconds of 'speech', a second of silence."""
    clip = np.concatenate([np.zeros(RATE), 0.3 * np.sin(np.arange(2 * RATE) / 8), np.zeros(RATE)])
    return [
        {"input_audio": clip.astype(np.float32), "emotion": i, "valence": 0.0, "arousal": 0.0,
         "speech_start": RATE, "speech_end": 3 * RATE}
        for i in range(2)
    ]  # fmt: skip


def collator(**kwargs) -> EmotionDataCollator:
    extractor = Wav2Vec2FeatureExtractor(return_attention_mask=True)
    return EmotionDataCollator(extractor, is_whisper=False, max_seconds=3.0, seed=7, **kwargs)


def test_training_framing_is_seeded_new_every_epoch_and_never_at_evaluation():
    framed = collator(random_crop=True, framing=TrainingFraming(RATE, max_pad_seconds=1.0))
    epochs = [framed(examples())["attention_mask"].sum(dim=1).tolist() for _ in range(6)]
    assert len({tuple(lengths) for lengths in epochs}) > 3  # a new framing at every draw
    again = collator(random_crop=True, framing=TrainingFraming(RATE, max_pad_seconds=1.0))
    assert [again(examples())["attention_mask"].sum(dim=1).tolist() for _ in range(6)] == epochs  # seeded

    evaluation = collator(random_crop=False, framing=TrainingFraming(RATE, max_pad_seconds=1.0))
    plain = collator(random_crop=False)
    for _ in range(3):  # whole clips (cut to max_seconds), exactly as without framing
        np.testing.assert_array_equal(
            evaluation(examples())["input_values"], plain(examples())["input_values"]
        )


@pytest.fixture(scope="module")
def framed_run(tmp_path_factory, ravdess_dir, tiny_wav2vec2_dir):
    pytest.importorskip("silero_vad")
    out = tmp_path_factory.mktemp("framed-run")
    finetune.main(
        ["--model_name_or_path", str(tiny_wav2vec2_dir), "--dataset", "ravdess", "--data_dir", str(ravdess_dir),
         "--num_folds", "4", "--fold", "0", "--num_train_epochs", "2", "--linear_probe_epochs", "0",
         "--speech_framing_seconds", "1.0", "--per_device_train_batch_size", "8", "--output_dir", str(out),
         "--save_total_limit", "1"]
    )  # fmt: skip
    return out


def test_a_framed_run_logs_trimmed_validation_and_records_its_margin(framed_run):
    state = json.loads(next(framed_run.rglob("trainer_state.json")).read_text())
    whole = [entry["epoch"] for entry in state["log_history"] if "eval_ua" in entry]
    trimmed = [entry["epoch"] for entry in state["log_history"] if "eval_trimmed_ua" in entry]
    assert whole and trimmed == whole  # both scored at every evaluation
    # The best epoch is the one best on the mean of the two (the default --metric_for_best_model).
    by_epoch = {}
    for entry in state["log_history"]:
        for key in ("eval_ua", "eval_trimmed_ua", "eval_whole_trimmed_ua"):
            if key in entry:
                by_epoch.setdefault(entry["epoch"], {})[key] = entry[key]
    assert len(by_epoch) == 2
    for scores in by_epoch.values():
        assert scores["eval_whole_trimmed_ua"] == pytest.approx(
            (scores["eval_ua"] + scores["eval_trimmed_ua"]) / 2
        )
    assert state["best_metric"] == max(s["eval_whole_trimmed_ua"] for s in by_epoch.values())
    config = json.loads((framed_run / "config.json").read_text())
    assert config["speech_margin_seconds"] == 0.5
    # The refit is weighed on the same mean, its heads trained on the clips and on their speech.
    results = json.loads((framed_run / "all_results.json").read_text())
    assert results["refit_validation_whole_trimmed_ua"] == pytest.approx(
        (results["refit_validation_ua"] + results["refit_validation_trimmed_ua"]) / 2
    )
    assert results["refit_initial_validation_whole_trimmed_ua"] == pytest.approx(
        state["best_metric"], abs=0.05
    )


def test_speech_framing_seconds_out_of_range_is_refused(ravdess_dir, tiny_wav2vec2_dir, tmp_path):
    with pytest.raises((SystemExit, ValueError), match="speech_framing_seconds"):
        finetune.main(
            ["--model_name_or_path", str(tiny_wav2vec2_dir), "--dataset", "ravdess", "--data_dir",
             str(ravdess_dir), "--speech_framing_seconds", "-1", "--output_dir", str(tmp_path)]
        )  # fmt: skip


def test_the_probe_fine_tuned_and_refitted_heads_are_weighed_on_whole_and_trimmed_clips():
    """A probe better on whole clips alone but worse on their mean with trimmed clips loses to fine-tuning."""
    from types import SimpleNamespace

    from hf_emotion.training.heads import fine_tuned_score, weigh_heads
    from hf_emotion.training.trainer import best_whole_ua, whole_trimmed_ua

    assert whole_trimmed_ua({"eval_ua": 0.6, "eval_trimmed_ua": 0.4}) == pytest.approx(0.5)
    assert whole_trimmed_ua({"eval_ua": 0.6}) == 0.6  # --validate_trimmed false
    history = [
        {"eval_ua": 0.7, "step": 10, "epoch": 1.0}, {"eval_trimmed_ua": 0.3, "step": 10, "epoch": 1.0},
        {"eval_whole_trimmed_ua": 0.5, "step": 10, "epoch": 1.0},
        {"eval_ua": 0.6, "step": 20, "epoch": 2.0}, {"eval_trimmed_ua": 0.6, "step": 20, "epoch": 2.0},
        {"eval_whole_trimmed_ua": 0.6, "step": 20, "epoch": 2.0},
    ]  # fmt: skip
    state = SimpleNamespace(best_global_step=20, log_history=history)
    assert best_whole_ua(state) == 0.6
    assert best_whole_ua(SimpleNamespace(best_global_step=None, log_history=history)) is None

    def run(metric):
        args = SimpleNamespace(metric_for_best_model=metric, load_best_model_at_end=True)
        return SimpleNamespace(training_args=args)

    assert fine_tuned_score(run("whole_trimmed_ua").training_args, state) == 0.6
    assert fine_tuned_score(run("eval_ua").training_args, state) == 0.6
    probe = {
        "probe_validation_ua": 0.65,
        "probe_validation_trimmed_ua": 0.45,
        "probe_validation_whole_trimmed_ua": 0.55,
    }
    assert weigh_heads(run("whole_trimmed_ua"), state, probe, {}) == ("fine-tuned", 0.6)
    better = {**probe, "probe_validation_trimmed_ua": 0.65, "probe_validation_whole_trimmed_ua": 0.65}
    assert weigh_heads(run("whole_trimmed_ua"), state, better, {})[0] == "probe"
    refit = {"refit_best_epoch": 3, "refit_validation_whole_trimmed_ua": 0.7}
    assert weigh_heads(run("whole_trimmed_ua"), state, better, refit)[0] == "refit"


def test_head_fits_train_on_the_speech_too_and_choose_their_epoch_on_whole_and_trimmed_clips(
    ravdess_dir, tiny_wav2vec2_dir, monkeypatch
):
    import torch

    from hf_emotion.corpora import load_ravdess
    from hf_emotion.data.decode_cache import decode_dataset
    from hf_emotion.data.framing import trimmed_to_speech
    from hf_emotion.data.labels import EMOTIONS
    from hf_emotion.model.batches import with_model_columns
    from hf_emotion.model.modeling_emotion import EmotionModel
    from hf_emotion.training import heads

    clips, _ = decode_dataset(load_ravdess(ravdess_dir), RATE)
    clips = with_model_columns(clips)
    train = clips.filter(lambda s: s not in ("ravdess-07", "ravdess-08"), input_columns="speaker")
    validation = clips.filter(lambda s: s in ("ravdess-07", "ravdess-08"), input_columns="speaker")
    cut = {name: with_model_columns(trimmed_to_speech(part, RATE, method="energy"))
           for name, part in (("train", train), ("validation", validation))}  # fmt: skip
    lengths = [sum(map(len, part["input_audio"])) for part in (validation, cut["validation"])]
    assert lengths[1] < lengths[0]  # cut: the synthetic clips' 'speech' starts and ends in quieter samples
    encoded, scored = [], []

    def encode(model, dataset, *args, **kwargs):
        encoded.append(len(dataset))
        return heads.pooled_features(model, dataset, *args, **kwargs)

    def scores(*args):
        scored.append(heads_scores(*args))
        return scored[-1]

    heads_scores = heads.validation_scores
    monkeypatch.setattr(heads, "validation_scores", scores)
    torch.manual_seed(0)
    model = EmotionModel.from_encoder_pretrained(str(tiny_wav2vec2_dir), id2label=dict(enumerate(EMOTIONS)))
    result = heads.fit_heads_on_pooled_features(
        model, train, validation, collator(), list(EMOTIONS),
        epochs=12, learning_rate=1e-2, encode=encode, trimmed_train_dataset=cut["train"],
        trimmed_validation_dataset=cut["validation"],
    )  # fmt: skip
    assert encoded == [len(train), len(train), len(validation), len(validation)]  # whole and cut, both sets
    means = [s["whole_trimmed_ua"] for s in scored]
    for s in scored:
        assert s["whole_trimmed_ua"] == pytest.approx((s["ua"] + s["trimmed_ua"]) / 2)
    best = max(range(len(means)), key=lambda i: (means[i], -i))  # the first best epoch
    assert result["probe_best_epoch"] == best + 1
    assert result["probe_validation_whole_trimmed_ua"] == means[best]
    assert result["probe_validation_ua"] == scored[best]["ua"]
    assert result["probe_validation_trimmed_ua"] == scored[best]["trimmed_ua"]
    assert heads_scores(model, {"ua": encode(model, validation, collator(), 16)}, list(EMOTIONS))["ua"] == (
        pytest.approx(result["probe_validation_ua"])
    )
