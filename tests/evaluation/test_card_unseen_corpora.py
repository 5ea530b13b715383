"""The model card's "Unseen corpora" section, from the cross-corpus matrix: built with the card, written into a
model folder's card afterwards (`hf-emotion card`), and read back through huggingface_hub's ModelCard."""

from __future__ import annotations

import json

import datasets
import pytest
from huggingface_hub import ModelCard

from hf_emotion.cli import main as cli_main
from hf_emotion.evaluation.unseen_corpora import LEAVE_ONE_OUT, trained_corpora
from hf_emotion.hub.card import build_model_card
from hf_emotion.training import finetune
from tests.benchmarks.test_matrix_report import make_matrix
from tests.serving.test_inference import LABELS, make_emotion_model_dir

GENERAL = ["ravdess_speech", "ravdess_song", "crema_d"]
SPLIT = {"protocol": "all_speakers", "train": ["ravdess-01", "crema_d-1001"]}


def _card(tmp_path, matrix, corpora=GENERAL, datasets_=("ravdess", "ravdess", "crema_d")):
    card = build_model_card(
        repo_id="me/general",
        base_model="openai/whisper-tiny.en",
        datasets=list(datasets_),
        label_names=["neutral", "happy", "sad", "angry"],
        metrics={"final_fine_tune_epochs": 6},
        split=SPLIT,
        summary={
            "eval_ua": {"mean": 0.7, "std": 0.02, "n": 6},
            "eval_ua_crema_d": {"mean": 0.6, "std": 0.1, "n": 6},
        },
        cross_corpus=matrix,
        trained_corpora=corpora,
    )
    card.save(tmp_path / "README.md")
    return ModelCard.load(tmp_path / "README.md")


def _unseen_results(card, whole_ravdess=False):
    """The leave-one-corpus-out entries: each corpus left out alone, or (``whole_ravdess``) both RAVDESS channels."""
    return {
        (r.dataset_type, r.dataset_config): r
        for r in card.data.eval_results
        if (r.dataset_args or {}).get("protocol") == LEAVE_ONE_OUT
        and (len(r.dataset_args["left_out"]) > 1) == whole_ravdess
    }


def test_card_says_what_the_recipe_trained_without_each_corpus_scored_on_it(tmp_path):
    card = _card(tmp_path, make_matrix())

    assert (
        "**CREMA-D subset**: the same recipe trained without CREMA-D subset (on RAVDESS speech + RAVDESS song) "
        "scored UA 0.410 over the 6 shared labels and 0.700 over angry/happy/neutral/sad (1880 clips, 91 speakers; "
        "cross-corpus) on CREMA-D subset's speakers." in card.text
    )
    assert (
        "**RAVDESS song**: not measured (the matrix has no row of the same recipe trained without RAVDESS song"
        in card.text
    )
    assert "| crema_d | 0.600 ± 0.100 |" in card.text  # the in-corpus UA per corpus stays
    results = _unseen_results(card)
    assert set(results) == {
        ("crema_d", "shared labels"),
        ("crema_d", "angry, happy, neutral, sad"),
        ("ravdess_speech", "shared labels"),
        ("ravdess_speech", "angry, happy, neutral, sad"),
    }
    crema = results["crema_d", "shared labels"]
    assert crema.metric_value == 0.41 and crema.dataset_args["trained_on"] == [
        "ravdess_speech",
        "ravdess_song",
    ]
    assert crema.dataset_args["matrix_row"] == "speech-song" and crema.dataset_args["speakers"] == 91
    assert results["ravdess_speech", "angry, happy, neutral, sad"].metric_value == 0.66
    # Speech and song share their actors: the row trained on neither is quoted too.
    assert (
        "**RAVDESS speech**: the same recipe trained without RAVDESS speech and RAVDESS song (on CREMA-D subset) "
        "scored UA 0.520 over the 6 shared labels" in card.text
    )
    whole = _unseen_results(card, whole_ravdess=True)
    assert set(whole) == {
        ("ravdess_speech", "shared labels"),
        ("ravdess_speech", "angry, happy, neutral, sad"),
    }
    assert whole["ravdess_speech", "shared labels"].dataset_args["left_out"] == [
        "ravdess_speech",
        "ravdess_song",
    ]


def test_card_says_not_measured_when_the_matrix_lacks_the_rows(tmp_path):
    matrix = make_matrix() | {"rows": {}, "cells": []}
    card = _card(tmp_path, matrix)

    for corpus in ("RAVDESS speech", "RAVDESS song", "CREMA-D subset"):
        assert f"**{corpus}**: not measured" in card.text
    assert _unseen_results(card) == {}
    unrun = _card(tmp_path, None)
    assert (
        "Not measured: the cross-corpus matrix (`benchmarks/cross_corpus_matrix.py`) has not been run"
        in unrun.text
    )


def test_a_single_corpus_model_shows_its_own_row_on_the_other_corpora(tmp_path):
    matrix = make_matrix()
    matrix["rows"]["speech"] = {"corpora": ["ravdess_speech"]}
    matrix["cells"].append(
        {"row": "speech", "corpus": "crema_d", "labels": "shared", "kind": "cross-corpus", "ua": 0.36}
        | {
            "clips": 1880,
            "speakers": 91,
            "scored_labels": ["neutral", "happy", "sad", "angry", "fearful", "disgust"],
        }
    )
    card = _card(tmp_path, matrix, corpora=["ravdess_speech"], datasets_=("ravdess_speech",))
    assert "**CREMA-D subset**: this recipe (trained on RAVDESS speech) scored UA 0.360" in card.text
    assert (
        "**RAVDESS song**: not measured (the matrix has no row of the same recipe as this model" in card.text
    )


def test_card_command_writes_the_section_into_a_model_folder_once(tmp_path, capsys, tiny_wav2vec2_dir):
    make_emotion_model_dir(tiny_wav2vec2_dir, tmp_path, labels=LABELS)
    before = len(_card(tmp_path, None, corpora=None).data.eval_results)  # made before the matrix: no section
    matrix = make_matrix()
    for row in matrix["rows"].values():  # the recipe of the card's model (its base_model)
        row["base_model"] = "openai/whisper-tiny.en"
    matrix_file = tmp_path / "matrix.json"
    matrix_file.write_text(json.dumps(matrix))
    argv = ["card", "--model", str(tmp_path), "--cross_corpus", str(matrix_file)]

    assert cli_main(argv) == 2  # the card's datasets say "ravdess" twice: which channels?
    assert "pass --corpora" in capsys.readouterr().err
    for _ in range(2):
        assert cli_main([*argv, "--corpora", *GENERAL]) == 0

    card = ModelCard.load(tmp_path / "README.md")
    assert card.text.count("## Unseen corpora") == 1
    assert card.text.index("## Unseen corpora") < card.text.index("## Data and licences")
    unseen = len(_unseen_results(card)) + len(_unseen_results(card, whole_ravdess=True))
    assert unseen == 6 and len(card.data.eval_results) == before + 6  # written once, not twice


def test_trained_corpora_tell_ravdess_channels_apart():
    dataset = datasets.Dataset.from_dict(
        {
            "corpus": ["ravdess", "crema_d", "ravdess", "ravdess"],
            "channel": ["song", "speech", "speech", "song"],
        }
    )
    assert trained_corpora(dataset) == ["ravdess_song", "crema_d", "ravdess_speech"]


def test_finetune_cards_get_the_section_from_cross_corpus_results(tmp_path, ravdess_dir, tiny_wav2vec2_dir):
    matrix_file = tmp_path / "matrix.json"
    matrix = make_matrix()
    matrix["rows"]["speech"] = {"corpora": ["ravdess_speech"]}
    matrix["cells"].append(
        {"row": "speech", "corpus": "crema_d", "labels": "shared", "kind": "cross-corpus", "ua": 0.36}
        | {"clips": 1880, "speakers": 91, "scored_labels": ["neutral", "happy", "sad", "angry"]}
    )
    matrix_file.write_text(json.dumps(matrix))
    out = tmp_path / "run"
    finetune.main(
        [
            *("--model_name_or_path", str(tiny_wav2vec2_dir), "--dataset", "ravdess_speech"),
            *(
                "--data_dir",
                str(ravdess_dir),
                "--num_folds",
                "4",
                "--max_steps",
                "2",
                "--output_dir",
                str(out),
            ),
            *(
                "--linear_probe_epochs",
                "1",
                "--refit_heads_epochs",
                "1",
                "--cross_corpus_results",
                str(matrix_file),
            ),
        ]
    )
    card = ModelCard.load(out / "README.md")
    assert "**CREMA-D subset**: this recipe (trained on RAVDESS speech) scored UA 0.360" in card.text
    assert any((r.dataset_args or {}).get("matrix_row") == "speech" for r in card.data.eval_results)


@pytest.mark.parametrize("datasets_", [["ravdess_speech", "crema_d"], ["crema_d"]])
def test_card_corpora_come_from_unambiguous_dataset_names(datasets_):
    from hf_emotion.commands.card import card_corpora

    assert card_corpora(datasets_) == datasets_
