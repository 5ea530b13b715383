"""finetune.py --speaker_adaptive_head: the fold's model folder gets a head, its metrics eval_adaptive_*."""

from __future__ import annotations

import json

import finetune
from hf_emotion.serving.recognizer import EmotionRecognizer
from hf_emotion.serving.speaker_adaptive import HEAD_FILE, SpeakerAdaptiveHead
from hf_emotion.training.checkpoints import export_model


def test_finetune_with_speaker_adaptive_head_saves_it_beside_the_model_and_scores_test(
    tmp_path, ravdess_dir, tiny_wav2vec2_dir
):
    out = tmp_path / "run"
    finetune.main(
        ["--model_name_or_path", str(tiny_wav2vec2_dir), "--dataset", "ravdess", "--data_dir", str(ravdess_dir),
         "--num_folds", "4", "--fold", "0", "--max_steps", "2", "--speaker_adaptive_head",
         "--max_eval_seconds", "1", "--output_dir", str(out), "--per_device_train_batch_size", "8",
         "--per_device_eval_batch_size", "16", "--save_total_limit", "1"]
    )  # fmt: skip
    metrics = json.loads((out / "all_results.json").read_text())
    assert 0.0 <= metrics["eval_adaptive_ua"] <= 1.0 and 0.0 <= metrics["validation_adaptive_ua"] <= 1.0
    assert (out / HEAD_FILE).is_file()
    head = SpeakerAdaptiveHead.load(out)
    assert head.C == metrics["adaptive_C"]
    recognizer = EmotionRecognizer.from_pretrained(out)
    assert recognizer.adaptive_head is not None and recognizer.adaptive_head.labels == head.labels
    copy = tmp_path / "copy"
    copy.mkdir()
    export_model(str(out), str(copy))  # what a cross-validation's best fold and exports go through
    assert (copy / HEAD_FILE).read_bytes() == (out / HEAD_FILE).read_bytes()
