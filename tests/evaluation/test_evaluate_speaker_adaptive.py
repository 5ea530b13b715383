"""``hf-emotion evaluate --speaker_adaptive``: the head's transductive scores beside the clip-by-clip ones."""

from __future__ import annotations

import json
from pathlib import Path

from hf_emotion.cli import main
from hf_emotion.corpora.savee import SAVEE_EMOTIONS
from tests.synth import emotion_signal, write_audio


def make_savee_tree(root: Path, speakers=("DC", "JE"), takes=(1, 2)) -> Path:
    """A SAVEE-named folder ``root/AudioData/<talker>/<code><nn>.wav``: 7 labels, no calm."""
    for s, speaker in enumerate(speakers):
        for code, emotion in SAVEE_EMOTIONS.items():
            for take in takes:
                clip = emotion_signal(emotion, 0.6, speaker_shift=1.0 + 0.03 * s, seed=100 * s + take)
                write_audio(root / "AudioData" / speaker / f"{code}{take:02d}.wav", clip)
    return root


def test_evaluate_reports_the_heads_scores_as_eval_adaptive(
    adapted_model, ravdess_dir, crema_d_dir, tmp_path, caplog
):
    common = ["evaluate", "--model", str(adapted_model), "--max_seconds", "1", "--speaker_adaptive"]
    same = [*common, "--dataset", "ravdess", "--data_dir", str(ravdess_dir)]
    with caplog.at_level("INFO", logger="hf_emotion.commands.evaluate"):
        assert (
            main(
                [
                    *same,
                    "--split_file",
                    str(adapted_model / "splits.json"),
                    "--output_dir",
                    str(tmp_path / "a"),
                ]
            )
            == 0
        )
    metrics = json.loads((tmp_path / "a" / "all_results.json").read_text())
    assert 0.0 <= metrics["eval_ua"] <= 1.0
    assert metrics["eval_adaptive_ua"] > 0.5  # synthetic emotions, 8 classes: chance is 0.125
    assert "transductive" in caplog.text
    other = [
        *common,
        "--dataset",
        "crema_d",
        "--data_dir",
        str(crema_d_dir),
        "--labels",
        "angry,happy,neutral,sad",
    ]
    assert main([*other, "--output_dir", str(tmp_path / "b")]) == 0
    cross = json.loads((tmp_path / "b" / "all_results.json").read_text())
    assert cross["adaptive_labels"] == ["angry", "happy", "neutral", "sad"]
    assert 0.0 <= cross["eval_adaptive_ua"] <= 1.0 and cross["eval_adaptive_f1_calm"] == 0.0


def test_evaluate_speaker_adaptive_without_a_head_names_hf_emotion_adapt(tiny_wav2vec2_dir, tmp_path, capsys):
    from tests.serving.test_inference import make_emotion_model_dir

    bare = make_emotion_model_dir(tiny_wav2vec2_dir, tmp_path / "bare")
    assert (
        main(["evaluate", "--model", str(bare), "--output_dir", str(tmp_path / "out"), "--speaker_adaptive"])
        != 0
    )
    assert "no speaker_adaptive_head.npz; add one with hf-emotion adapt" in capsys.readouterr().err


def test_speaker_adaptive_scores_a_seven_label_corpus_over_the_labels_clip_by_clip_scores(
    adapted_model, tmp_path
):
    # An 8-label model (with calm) on SAVEE's 7 labels, without --labels: this once ended in
    # "ValueError: Class label 7 greater than configured num_classes 7".
    savee = make_savee_tree(tmp_path / "savee")
    command = ["evaluate", "--model", str(adapted_model), "--dataset", "savee", "--data_dir", str(savee)]
    command += ["--output_dir", str(tmp_path / "out"), "--max_seconds", "1", "--speaker_adaptive"]
    assert main(command) == 0
    metrics = json.loads((tmp_path / "out" / "all_results.json").read_text())
    assert metrics["adaptive_labels"] == metrics["scored_labels"]
    assert sorted(metrics["adaptive_labels"]) == sorted(SAVEE_EMOTIONS.values())
    assert metrics["model_labels_dropped"] == ["calm"] and metrics["eval_clips"] == 28
    assert 0.0 <= metrics["eval_ua"] <= 1.0 and 0.0 <= metrics["eval_adaptive_ua"] <= 1.0
