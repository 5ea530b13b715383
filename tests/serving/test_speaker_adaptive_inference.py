"""Speaker-adaptive inference with a model: `hf-emotion adapt`, SpeakerAdaptiveRecognizer on clips and on a
long recording, and the head's scores, on a tiny random model and synthetic RAVDESS / CREMA-D."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hf_emotion.data.labels import EMOTIONS
from hf_emotion.data.splits import Split
from hf_emotion.serving.adaptive_recognizer import SpeakerAdaptiveRecognizer
from hf_emotion.serving.speaker_adaptive import HEAD_FILE, MODE, SpeakerAdaptiveHead
from hf_emotion.training.speaker_adaptive_head import score_speaker_adaptive
from tests.synth import emotion_signal, write_audio


def test_a_per_speaker_offset_and_scale_do_not_change_predictions():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(40, 3, 8))
    labels = np.arange(40) % 4
    speakers = [f"s{i // 10}" for i in range(40)]
    head = SpeakerAdaptiveHead.fit(features, labels, speakers, ["a", "b", "c", "d"], C=1.0)
    moved = features.copy()
    for s in range(4):
        rows = slice(10 * s, 10 * s + 10)
        moved[rows] = moved[rows] * np.exp(rng.normal(size=(3, 8))) + rng.normal(scale=10.0, size=(3, 8))
    np.testing.assert_allclose(
        head.probabilities(moved, speakers), head.probabilities(features, speakers), atol=1e-4
    )


def test_adapt_writes_a_head_beside_the_model_for_its_labels(adapted_model):
    head = SpeakerAdaptiveHead.load(adapted_model)
    assert (adapted_model / HEAD_FILE).is_file()
    assert head.labels == list(EMOTIONS)


def test_predictions_for_one_speakers_clips_say_they_are_speaker_adaptive(adapted_model, ravdess_dir, caplog):
    recognizer = SpeakerAdaptiveRecognizer.from_pretrained(adapted_model)
    files = sorted((ravdess_dir / "Actor_07").glob("*.wav"))[:5]
    arrays = [emotion_signal(e, 0.8, seed=i) for i, e in enumerate(EMOTIONS[:4])]
    with caplog.at_level("WARNING", logger="hf_emotion.serving.speaker_adaptive"):
        from_files = recognizer(files)
    assert "fewer than 10 clips are noisy: speaker (5)" in caplog.text
    from_arrays = recognizer(arrays, sampling_rate=16_000, speakers=["me"] * 4)
    assert len(from_files) == 5 and len(from_arrays) == 4
    for prediction in from_files + from_arrays:
        assert prediction.mode == MODE == "speaker_adaptive"
        assert list(prediction.probabilities) == list(EMOTIONS)
        assert prediction.label == max(prediction.probabilities, key=prediction.probabilities.get)
        assert sum(prediction.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert from_files[0].source == str(files[0]) and from_arrays[0].speaker == "me"
    assert json.loads(json.dumps(from_arrays[0].to_dict()))["mode"] == "speaker_adaptive"


def test_recognizer_refuses_too_few_clips_before_reading_them(adapted_model, tmp_path):
    recognizer = SpeakerAdaptiveRecognizer.from_pretrained(adapted_model)
    with pytest.raises(ValueError, match="needs at least 4 clips of each speaker"):
        recognizer([tmp_path / f"missing-{i}.wav" for i in range(3)])


def test_a_long_recording_is_judged_window_by_window_against_its_own_speech(adapted_model, tmp_path):
    rate = 16_000
    speech = [emotion_signal(e, 2.5, seed=i) for i, e in enumerate(("angry", "sad", "happy", "neutral"))]
    silence = np.zeros(3 * rate, dtype=np.float32)
    path = write_audio(tmp_path / "talk.wav", np.concatenate([*speech[:2], silence, *speech[2:]]))
    recognizer = SpeakerAdaptiveRecognizer.from_pretrained(adapted_model)
    windows = recognizer.recording(path, window=1.0, hop=0.5)
    assert all(w.mode == "speaker_adaptive" and w.source == str(path) for w in windows)
    assert [w.start for w in windows] == sorted(w.start for w in windows)
    # The 3 s of silence (5.0-8.0 s) give no window of their own.
    assert not [w for w in windows if w.start >= 5.0 and w.end <= 8.0]
    assert windows[-1].end == pytest.approx(13.0)
    with pytest.raises(ValueError, match="2 speech windows of 1 s"):
        recognizer.recording(speech[0][: int(1.9 * rate)], sampling_rate=rate, window=1.0, hop=1.0)


def test_head_scores_held_out_speakers_and_restricts_to_given_labels(adapted_model, ravdess_dir):
    from transformers import AutoFeatureExtractor

    from hf_emotion.corpora import load_corpus
    from hf_emotion.data.decode_cache import decode_dataset
    from hf_emotion.model.batches import with_model_columns
    from hf_emotion.model.modeling_emotion import EmotionModel

    raw = load_corpus("ravdess", str(ravdess_dir))
    raw = raw.filter(lambda s: s in ("ravdess-07", "ravdess-08"), input_columns="speaker")
    test = with_model_columns(decode_dataset(raw, 16_000)[0])
    model = EmotionModel.from_pretrained(adapted_model).eval()
    extractor = AutoFeatureExtractor.from_pretrained(adapted_model)
    head = SpeakerAdaptiveHead.load(adapted_model)
    every = score_speaker_adaptive(head, model, extractor, test, max_seconds=1.0)
    four = score_speaker_adaptive(
        head, model, extractor, test, labels=["angry", "happy", "neutral", "sad"], max_seconds=1.0
    )
    assert every["eval_adaptive_ua"] > 0.5  # 8 classes: chance is 0.125
    assert four["eval_adaptive_f1_calm"] == 0.0 and four["eval_adaptive_ua"] > 0.5


def test_adapt_fits_an_eight_label_model_on_a_six_label_corpus(tiny_wav2vec2_dir, crema_d_dir, tmp_path):
    from hf_emotion.cli import main
    from tests.serving.test_inference import make_emotion_model_dir

    folder = make_emotion_model_dir(tiny_wav2vec2_dir, tmp_path / "model", labels=list(EMOTIONS))
    Split(
        "fixed",
        train=["crema_d-1001", "crema_d-1002", "crema_d-1003"],
        validation=["crema_d-1004", "crema_d-1005"],
        test=["crema_d-1006"],
    ).to_json(tmp_path / "splits.json")
    args = ["adapt", "--model", str(folder), "--dataset", "crema_d", "--data_dir", str(crema_d_dir)]
    assert (
        main([*args, "--split_file", str(tmp_path / "splits.json"), "--output_dir", str(tmp_path / "head")])
        == 0
    )
    head = SpeakerAdaptiveHead.load(tmp_path / "head")
    assert head.labels == [e for e in EMOTIONS if e not in ("calm", "surprised")]
    assert not (folder / HEAD_FILE).exists()
