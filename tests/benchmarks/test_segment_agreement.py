"""benchmarks.segment_agreement runs end to end on a synthetic corpus, and its summary counts right."""

from __future__ import annotations

import json

import pytest

from benchmarks import segment_agreement
from benchmarks.segment_agreement import agreement_summary
from hf_emotion.data.splits import Split
from tests.serving.test_inference import LABELS, make_emotion_model_dir
from tests.synth import make_ravdess_tree


def test_summary_counts_a_clip_without_speech_as_a_disagreement_and_a_miss():
    summary = agreement_summary(
        truth=["angry", "sad", "sad", "happy"],
        whole=["angry", "sad", "happy", "happy"],
        vad=["angry", "happy", "happy", None],
        segments=[1, 2, 1, 0],
        labels=["angry", "happy", "sad"],
    )
    assert summary["agreement"] == pytest.approx(2 / 4)
    assert (summary["segments_0"], summary["segments_1"], summary["segments_2plus"]) == (0.25, 0.5, 0.25)
    assert (summary["agreement_1"], summary["agreement_2plus"]) == (1.0, 0.0)
    assert summary["ua_whole"] == pytest.approx((1 + 1 + 0.5) / 3)
    assert summary["ua_vad"] == pytest.approx((1 + 0 + 0) / 3)  # the clip without speech is a miss
    one_each = agreement_summary(["sad", "happy"], ["sad", "happy"], ["sad", "sad"], [1, 1], ["happy", "sad"])
    assert one_each["agreement_2plus"] is None  # no clip had 2+ segments: no share, not NaN


def test_script_scores_each_model_on_its_test_clips_and_writes_the_table(tmp_path, tiny_wav2vec2_dir):
    pytest.importorskip("silero_vad")
    speech = make_ravdess_tree(tmp_path / "speech", actors=(1, 2), seconds=1.0)
    model = make_emotion_model_dir(tiny_wav2vec2_dir, tmp_path / "model", labels=LABELS)
    Split("fixed", ["ravdess-02"], [], ["ravdess-01"]).to_json(model / "splits.json")
    out = tmp_path / "agreement.md"
    argv = [
        *("--model", f"m={model}", "--test", f"fold=ravdess_speech:{speech}:{model / 'splits.json'}"),
        *("--vad_pads", "default", "0", "0.25", "--per_clip", "--output", str(out)),
    ]

    assert segment_agreement.main(argv) == 0

    (result,) = json.loads(out.with_suffix(".json").read_text())
    assert result["speech_margin_seconds"] is None
    assert [(row["pad"], row["pad_seconds"]) for row in result["rows"]] == [
        ("default", 0.0),
        (0.0, 0.0),
        (0.25, 0.25),
    ]
    assert len(result["clips"]) == 15  # the one test actor's clips
    assert {clip["file"].split("-")[-1] for clip in result["clips"]} == {"01.wav"}
    row = result["rows"][0]
    assert row["segments_0"] + row["segments_1"] + row["segments_2plus"] == pytest.approx(1.0)
    text = out.read_text()
    assert "| m | fold | 15 | default (0 s: none recorded) |" in text
    assert "| m | fold | 15 | 0.25 s |" in text
    assert "Command: `python -m benchmarks.segment_agreement --model" in text

    assert segment_agreement.main(argv[:-3] + ["--output", str(out)]) == 0  # without --per_clip
    assert "clips" not in json.loads(out.with_suffix(".json").read_text())[0]


def test_a_model_that_heard_a_test_speaker_is_refused(tmp_path, tiny_wav2vec2_dir):
    speech = make_ravdess_tree(tmp_path / "speech", actors=(1, 2), seconds=0.6)
    model = make_emotion_model_dir(tiny_wav2vec2_dir, tmp_path / "model", labels=LABELS)
    Split("fixed", ["ravdess-01"], [], ["ravdess-02"]).to_json(model / "splits.json")
    other_fold = tmp_path / "other.json"
    Split("fixed", ["ravdess-02"], [], ["ravdess-01"]).to_json(other_fold)
    argv = ["--model", f"m={model}", "--test", f"t=ravdess_speech:{speech}:{other_fold}"]
    with pytest.raises(SystemExit, match="ravdess-01"):
        segment_agreement.main([*argv, "--output", str(tmp_path / "x.md")])
