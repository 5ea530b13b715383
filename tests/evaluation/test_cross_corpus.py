"""Cross-corpus scoring: the arg-max over the labels a model and a corpus share, through the recognizer."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hf_emotion.cli import main as cli_main
from hf_emotion.evaluation.cross_corpus import match_labels, restricted_probabilities
from hf_emotion.evaluation.metrics import classification_metrics
from hf_emotion.serving.recognizer import EmotionRecognizer
from tests.serving.test_inference import LABELS, make_emotion_model_dir
from tests.synth import emotion_signal, write_audio

TESS_CODES = {"angry": "angry", "disgust": "disgust", "fear": "fearful", "happy": "happy"}
TESS_CODES |= {"neutral": "neutral", "ps": "surprised", "sad": "sad"}


@pytest.fixture(scope="module")
def tess_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("tess")
    for s, speaker in enumerate(("OAF", "YAF")):
        for w, word in enumerate(("back", "bath", "bean")):
            for code, emotion in TESS_CODES.items():
                samples = emotion_signal(emotion, 0.5, speaker_shift=1 + 0.05 * s, seed=10 * s + w)
                write_audio(root / f"{speaker}_{word}_{code}.wav", samples)
    return root


def test_match_labels_names_what_each_side_loses():
    match = match_labels(["neutral", "calm", "happy", "sad"], ["sad", "happy", "neutral", "surprised"])
    assert match.labels == ["neutral", "happy", "sad"]  # the model's order
    assert match.model_only == ["calm"] and match.corpus_only == ["surprised"]

    four = match_labels(LABELS, list(TESS_CODES.values()), ["angry", "happy", "neutral", "sad"])
    assert four.labels == ["neutral", "happy", "sad", "angry"]
    assert four.model_only == ["calm", "fearful", "disgust", "surprised"]
    with pytest.raises(ValueError, match="calm.*the corpus"):
        match_labels(LABELS, list(TESS_CODES.values()), ["calm", "sad"])
    with pytest.raises(ValueError, match="none in common"):
        match_labels(["calm"], ["sad"])


def test_a_label_the_corpus_lacks_cannot_take_a_clip():
    probabilities = np.array([[0.6, 0.3, 0.1], [0.2, 0.1, 0.7]])
    kept = restricted_probabilities(probabilities, ["calm", "sad", "angry"], ["sad", "angry"])
    np.testing.assert_allclose(kept, [[0.75, 0.25], [0.125, 0.875]])


def _recognizer_ua(model_dir, tess_dir, labels):
    """The UA the recognizer's own per-file answers give, restricted to ``labels`` by hand."""
    recognizer = EmotionRecognizer.from_pretrained(model_dir, silence_threshold_db=None)
    files = sorted(tess_dir.glob("*.wav"))
    truth = [TESS_CODES[f.stem.split("_")[2]] for f in files]
    keep = [i for i, t in enumerate(truth) if t in labels]
    predictions = recognizer([str(files[i]) for i in keep])
    guessed = [max(labels, key=lambda label, p=p: p.probabilities[label]) for p in predictions]
    return classification_metrics(
        [labels.index(truth[i]) for i in keep], [labels.index(g) for g in guessed], labels
    )["ua"], len(keep)


def test_evaluate_on_another_corpus_scores_the_shared_labels_through_the_recognizer(
    tmp_path, tess_dir, tiny_wav2vec2_dir
):
    # A model that knows calm (TESS has none) and not surprised (TESS has it).
    labels = ["neutral", "calm", "happy", "sad", "angry", "fearful", "disgust"]
    model = make_emotion_model_dir(tiny_wav2vec2_dir, tmp_path / "model", labels=labels)
    out = tmp_path / "tess-eval"

    code = cli_main(
        [
            "evaluate",
            "--model",
            str(model),
            "--dataset",
            "tess",
            "--data_dir",
            str(tess_dir),
            "--output_dir",
            str(out),
        ]
    )

    assert code == 0
    results = json.loads((out / "all_results.json").read_text())
    record = json.loads((out / "predictions.json").read_text())
    shared = ["neutral", "happy", "sad", "angry", "fearful", "disgust"]
    assert results["scored_labels"] == record["label_names"] == shared
    assert results["model_labels_dropped"] == ["calm"] and results["corpus_labels_dropped"] == ["surprised"]
    expected_ua, clips = _recognizer_ua(model, tess_dir, shared)
    assert results["eval_clips"] == clips == 36
    assert results["eval_ua"] == pytest.approx(expected_ua)
    assert (out / "confusion_matrix.png").is_file()


def test_evaluate_labels_chooses_the_four_class_subset(tmp_path, tess_dir, tiny_wav2vec2_dir, capsys):
    model = make_emotion_model_dir(tiny_wav2vec2_dir, tmp_path / "model", labels=LABELS, seed=3)
    four = ["angry", "happy", "neutral", "sad"]
    out = tmp_path / "four"
    common = ["evaluate", "--model", str(model), "--dataset", "tess", "--data_dir", str(tess_dir)]

    assert cli_main([*common, "--labels", ",".join(four), "--output_dir", str(out)]) == 0

    results = json.loads((out / "all_results.json").read_text())
    in_model_order = ["neutral", "happy", "sad", "angry"]
    assert results["scored_labels"] == in_model_order and results["eval_clips"] == 24
    assert set(results["corpus_labels_dropped"]) == {"fearful", "disgust", "surprised"}
    assert results["eval_ua"] == pytest.approx(_recognizer_ua(model, tess_dir, in_model_order)[0])
    assert cli_main([*common, "--labels", "calm,sad", "--output_dir", str(out)]) == 2
    assert "error: --labels calm,sad: ['calm'] not among the labels of the corpus" in capsys.readouterr().err


def test_evaluate_under_recording_conditions_reports_each_ua_and_its_drop(
    tmp_path, tess_dir, tiny_wav2vec2_dir, capsys
):
    model = make_emotion_model_dir(tiny_wav2vec2_dir, tmp_path / "model", labels=LABELS, seed=5)
    out = tmp_path / "noisy"
    common = ["evaluate", "--model", str(model), "--dataset", "tess", "--data_dir", str(tess_dir)]

    assert cli_main([*common, "--condition", "clean", "white:0", "babble:5", "--output_dir", str(out)]) == 0

    results = json.loads((out / "all_results.json").read_text())
    assert results["eval_clean_ua"] == results["eval_ua"] and results["ua_drop_clean"] == 0.0
    for key in ("white0", "babble5"):
        assert results[f"ua_drop_{key}"] == pytest.approx(results["eval_ua"] - results[f"eval_{key}_ua"])
    record = json.loads((out / "predictions.json").read_text())  # the clean predictions
    assert results["eval_ua"] == pytest.approx(
        classification_metrics(record["y_true"], record["y_pred"], record["label_names"])["ua"]
    )
    assert cli_main([*common, "--condition", "pink:10", "--output_dir", str(out)]) == 2
    assert "error: --condition: condition 'pink:10' is unknown" in capsys.readouterr().err


def test_evaluate_under_framing_conditions_scores_trimmed_and_padded_clips(
    tmp_path, tess_dir, tiny_wav2vec2_dir
):
    model = make_emotion_model_dir(tiny_wav2vec2_dir, tmp_path / "model", labels=LABELS, seed=5)
    out = tmp_path / "framed"
    specs = ["trim:energy", "trim:energy+silence:0.5", "trim:energy+noise:0.25", "silence:2"]
    command = ["evaluate", "--model", str(model), "--dataset", "tess", "--data_dir", str(tess_dir)]
    assert cli_main([*command, "--condition", *specs, "--output_dir", str(out)]) == 0
    results = json.loads((out / "all_results.json").read_text())
    for key in ("trimenergy", "trimenergy_silence0.5", "trimenergy_noise0.25", "silence2"):
        assert 0.0 <= results[f"eval_{key}_ua"] <= 1.0
        assert results[f"ua_drop_{key}"] == pytest.approx(results["eval_ua"] - results[f"eval_{key}_ua"])


@pytest.mark.parametrize("subset", [["angry"], ["angry", "angry"], []])
def test_a_subset_of_fewer_than_two_labels_is_refused(subset):
    with pytest.raises(ValueError, match="give at least two labels"):
        match_labels(LABELS, list(TESS_CODES.values()), subset)


def test_a_model_and_corpus_sharing_one_label_are_refused():
    with pytest.raises(ValueError, match=r"share only \['sad'\]: over one label every clip is scored right"):
        match_labels(["calm", "sad"], ["sad", "happy"])
