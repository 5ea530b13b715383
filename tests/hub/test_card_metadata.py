"""The card's metadata as the Hub reads it (``ModelCard.load``): Hub dataset ids only, the speakers'
language, and an export's card that keeps its model's licence and data."""

from __future__ import annotations

import pytest
from huggingface_hub import ModelCard

from hf_emotion.hub.card import card_languages, hub_dataset_ids
from tests.hub.test_hub import METRICS, ravdess_card
from tests.serving.test_inference import make_emotion_model_dir


def test_datasets_hold_hub_ids_only_and_name_every_corpus_in_the_text(tmp_path):
    folder = tmp_path / "my-clips"
    folder.mkdir()
    card = ravdess_card(datasets=["ravdess", "crema_d", "someone/emotional-podcasts", str(folder)])
    card.save(tmp_path / "README.md")
    data = ModelCard.load(tmp_path / "README.md").data
    assert data.datasets == ["someone/emotional-podcasts"]  # no built-in corpus has a Hub id of its own yet
    assert data.training_corpora == ["ravdess", "crema_d", "someone/emotional-podcasts", "my-clips"]
    assert data.language == "en"
    assert "**RAVDESS" in card.text and "**CREMA-D" in card.text


def test_a_corpus_given_twice_is_named_once(tmp_path):
    card = ravdess_card(
        datasets=["ravdess", "ravdess", "crema_d"]
    )  # the general run file: speech, song, CREMA-D
    card.save(tmp_path / "README.md")
    data = ModelCard.load(tmp_path / "README.md").data
    assert data.training_corpora == ["ravdess", "crema_d"]
    assert data.eval_results[0].dataset_name == "RAVDESS + CREMA-D"
    assert card.text.count("**RAVDESS") == 1 and "RAVDESS + RAVDESS" not in card.text


def test_language_follows_the_corpora():
    assert card_languages(["ravdess", "emodb"]) == ["de", "en"]
    assert card_languages(["someone/podcasts"]) == []  # unknown: left out rather than guessed
    assert hub_dataset_ids(["ravdess_speech", "tess"]) == []


def test_the_card_says_how_the_probabilities_were_calibrated():
    metrics = {"temperature": 1.8, "eval_ece": 0.041, "eval_ece_before_temperature": 0.187}
    text = ravdess_card(metrics={**METRICS, **metrics}).text
    assert "temperature-scaled (T = 1.80" in text and "0.187 before, 0.041 after" in text


@pytest.mark.parametrize("quantize", [None, "int8"])
def test_an_exports_card_keeps_its_models_metadata(quantize, tiny_wav2vec2_dir, tmp_path):
    pytest.importorskip("onnxruntime")
    from hf_emotion.serving.export import export_onnx

    model_dir = make_emotion_model_dir(tiny_wav2vec2_dir, tmp_path / "model")
    ravdess_card().save(model_dir / "README.md")
    out = export_onnx(model_dir, tmp_path / "export", quantize=quantize)
    source, exported = ModelCard.load(model_dir / "README.md").data, ModelCard.load(out / "README.md").data
    for key in ("license", "language", "base_model", "pipeline_tag", "training_corpora"):
        assert exported.get(key) == source.get(key), key
    assert "onnx" in exported.tags and ("int8" in exported.tags) == (quantize == "int8")
    assert "custom_code" not in exported.tags  # the export runs no remote code
    assert not exported.eval_results  # measured in torch: the model's card keeps them
    assert "# ONNX export of" in ModelCard.load(out / "README.md").text
