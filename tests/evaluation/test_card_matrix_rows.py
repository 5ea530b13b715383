"""``hf-emotion card --cross_corpus`` writes only rows of the model's own recipe into its card.

A cross-corpus matrix made with one backbone says nothing of a model fine-tuned from another: its rows are
checked against the card's ``base_model`` (recorded in the matrix, or read from the row's run file), and
``--corpora`` against the card's datasets, before the card is touched.
"""

from __future__ import annotations

import json

import pytest
from huggingface_hub import ModelCard

from hf_emotion.cli import main as cli_main
from hf_emotion.commands.card import corpora_mismatch, row_base_model
from hf_emotion.evaluation.unseen_corpora import other_recipe_row, quoted_rows
from hf_emotion.hub.card import build_model_card
from tests.benchmarks.test_matrix_report import make_matrix
from tests.cli_checks import one_error_line as _one_error_line

GENERAL = ["ravdess_speech", "ravdess_song", "crema_d"]
WHISPER = "openai/whisper-tiny.en"
WAV2VEC2 = "facebook/wav2vec2-base"


def whisper_matrix() -> dict:
    matrix = make_matrix()
    for row in matrix["rows"].values():
        row["base_model"] = WHISPER
    return matrix


def write_model_card(folder, base_model: str, datasets=("ravdess", "ravdess", "crema_d")) -> str:
    """A model folder's card as finetune.py writes it, before the matrix exists; returns its text."""
    (folder / "config.json").write_text("{}")  # the command reads the card only
    card = build_model_card(
        repo_id="me/general",
        base_model=base_model,
        datasets=list(datasets),
        label_names=["neutral", "happy", "sad", "angry"],
        metrics={"final_fine_tune_epochs": 6},
        split={"protocol": "all_speakers", "train": ["ravdess-01", "crema_d-1001"]},
        summary={"eval_ua": {"mean": 0.7, "std": 0.02, "n": 6}},
        cross_corpus=None,
        trained_corpora=None,
    )
    card.save(folder / "README.md")
    return (folder / "README.md").read_text()


def test_the_rows_a_card_quotes_must_have_fine_tuned_its_base_model():
    matrix = whisper_matrix()
    rows = {name: row["base_model"] for name, row in matrix["rows"].items()}
    assert set(quoted_rows(matrix, GENERAL)) == {"speech-song", "crema-d", "song-crema-d"}
    assert other_recipe_row(matrix, GENERAL, WHISPER, rows) is None
    assert other_recipe_row(matrix, GENERAL, WAV2VEC2, rows) == (
        f"its row song-crema-d fine-tuned {WHISPER}, this model {WAV2VEC2}"
    )
    unknown = rows | {"song-crema-d": None}
    assert "its row song-crema-d does not say which base model" in other_recipe_row(
        matrix, GENERAL, WHISPER, unknown
    )
    assert "card names no base_model" in other_recipe_row(matrix, GENERAL, None, rows)
    assert (
        other_recipe_row(make_matrix() | {"rows": {}, "cells": []}, GENERAL, WAV2VEC2, {}) is None
    )  # quotes none


def test_a_row_without_a_recorded_base_model_is_read_from_its_run_file():
    assert (
        row_base_model({"corpora": ["crema_d"], "config": "configs/whisper-tiny.en-crema-d.json"}) == WHISPER
    )
    assert row_base_model({"corpora": ["crema_d"], "base_model": WAV2VEC2}) == WAV2VEC2
    assert row_base_model({"corpora": ["crema_d"], "config": "configs/no-such-run.json"}) is None


@pytest.mark.parametrize("recorded", [True, False])
def test_card_command_refuses_another_backbones_matrix_and_leaves_the_card(tmp_path, capsys, recorded):
    before = write_model_card(tmp_path, WAV2VEC2)
    matrix = whisper_matrix() if recorded else make_matrix()
    if (
        not recorded
    ):  # as the project's own matrix: rows name their run files, whose backbone is Whisper tiny.en
        for name, row in matrix["rows"].items():
            row["config"] = f"configs/whisper-tiny.en-{'general' if name == 'general' else 'crema-d'}.json"
    matrix_file = tmp_path / "matrix.json"
    matrix_file.write_text(json.dumps(matrix))

    argv = ["card", "--model", str(tmp_path), "--cross_corpus", str(matrix_file), "--corpora", *GENERAL]
    assert cli_main(argv) == 2
    assert _one_error_line(capsys) == (
        f"error: --cross_corpus {matrix_file}: its row song-crema-d fine-tuned {WHISPER}, this model {WAV2VEC2}; "
        "its numbers are not this model's recipe: give the matrix made with this model's backbone"
    )
    assert (tmp_path / "README.md").read_text() == before


def test_card_command_refuses_corpora_the_card_does_not_name(tmp_path, capsys):
    before = write_model_card(tmp_path, WHISPER, datasets=("crema_d",))
    matrix_file = tmp_path / "matrix.json"
    matrix_file.write_text(json.dumps(whisper_matrix()))

    argv = [
        "card",
        "--model",
        str(tmp_path),
        "--cross_corpus",
        str(matrix_file),
        "--corpora",
        "ravdess_speech",
    ]
    assert cli_main(argv) == 2
    assert _one_error_line(capsys) == (
        "error: --corpora ravdess_speech: the card says the model trained on crema_d (ravdess_speech not among "
        f"them; crema_d not in --corpora); pass the corpora --model {tmp_path} trained on"
    )
    assert (tmp_path / "README.md").read_text() == before


def test_card_command_writes_the_rows_of_its_own_recipe(tmp_path):
    write_model_card(tmp_path, WHISPER)
    matrix_file = tmp_path / "matrix.json"
    matrix_file.write_text(json.dumps(whisper_matrix()))
    argv = ["card", "--model", str(tmp_path), "--cross_corpus", str(matrix_file), "--corpora", *GENERAL]
    assert cli_main(argv) == 0
    assert (
        "**CREMA-D subset**: the same recipe trained without CREMA-D subset"
        in ModelCard.load(tmp_path / "README.md").text
    )


@pytest.mark.parametrize(
    ("datasets", "corpora", "agree"),
    [
        (["ravdess", "ravdess", "crema_d"], GENERAL, True),
        (["ravdess"], ["ravdess_speech"], True),
        (["ravdess_speech", "crema_d"], ["ravdess_speech", "crema_d"], True),
        (None, ["crema_d"], True),
        (["ravdess_speech", "crema_d"], ["ravdess_speech"], False),
        (["ravdess", "tess"], ["ravdess_speech"], False),
        (["ravdess"], ["crema_d"], False),
    ],
)
def test_corpora_agree_with_the_cards_datasets(datasets, corpora, agree):
    assert (corpora_mismatch(datasets, corpora) is None) == agree
