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


def test_speech_framing_seconds_out_of_range_is_refused(ravdess_dir, tiny_wav2vec2_dir, tmp_path):
    with pytest.raises((SystemExit, ValueError), match="speech_framing_seconds"):
        finetune.main(
            ["--model_name_or_path", str(tiny_wav2vec2_dir), "--dataset", "ravdess", "--data_dir",
             str(ravdess_dir), "--speech_framing_seconds", "-1", "--output_dir", str(tmp_path)]
        )  # fmt: skip


def test_whole_clip_ua_of_the_best_epoch_weighs_the_probe_whatever_chose_the_epoch():
    from types import SimpleNamespace

    from hf_emotion.training.trainer import best_whole_ua, whole_trimmed_ua

    assert whole_trimmed_ua({"eval_ua": 0.6, "eval_trimmed_ua": 0.4}) == pytest.approx(0.5)
    assert whole_trimmed_ua({"eval_ua": 0.6}) == 0.6  # --validate_trimmed false
    history = [
        {"eval_ua": 0.7, "step": 10, "epoch": 1.0}, {"eval_trimmed_ua": 0.3, "step": 10, "epoch": 1.0},
        {"eval_ua": 0.6, "step": 20, "epoch": 2.0}, {"eval_trimmed_ua": 0.6, "step": 20, "epoch": 2.0},
    ]  # fmt: skip
    assert best_whole_ua(SimpleNamespace(best_global_step=20, log_history=history)) == 0.6
    assert best_whole_ua(SimpleNamespace(best_global_step=None, log_history=history)) is None
