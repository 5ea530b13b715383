"""The cross-corpus matrix rendered from its JSON (benchmarks.matrix_tables) into BENCHMARKS.md
(benchmarks.make_report): the leave-one-corpus-out cells judged from the data."""

from __future__ import annotations

import json

import pytest

from tests.benchmarks.test_benchmark_report import _load, _store

CORPORA = {"ravdess_speech": "RAVDESS speech", "ravdess_song": "RAVDESS song", "crema_d": "CREMA-D subset"}
FOUR = "angry,happy,neutral,sad"


def _cell(row, corpus, labels, ua, kind, clips=100, speakers=4):
    scored = ["neutral", "happy", "sad", "angry"] + (["fearful", "disgust"] if labels == "shared" else [])
    return {
        "row": row,
        "corpus": corpus,
        "labels": labels,
        "kind": kind,
        "ua": ua,
        "clips": clips,
        "speakers": speakers,
        "scored_labels": scored,
        "unseen_only": True,
    }


def make_matrix() -> dict:
    """Speech+song (without CREMA-D) and song+CREMA-D (without speech) and the general row; no speech+CREMA-D."""
    rows = {
        "speech-song": ["ravdess_speech", "ravdess_song"],
        "song-crema-d": ["ravdess_song", "crema_d"],
        "crema-d": ["crema_d"],
        "general": list(CORPORA),
    }
    cells = [
        _cell("crema-d", "ravdess_speech", "shared", 0.52, "cross-corpus", 1056, 24),
        _cell("crema-d", "ravdess_speech", FOUR, 0.44, "cross-corpus", 672, 24),
        _cell("speech-song", "crema_d", "shared", 0.41, "cross-corpus", 1880, 91),
        _cell("speech-song", "crema_d", FOUR, 0.70, "cross-corpus", 1238, 91),
        _cell("song-crema-d", "ravdess_speech", "shared", 0.55, "cross-channel"),
        _cell("song-crema-d", "ravdess_speech", FOUR, 0.66, "cross-channel"),
        _cell("general", "ravdess_speech", "shared", 0.78, "in-corpus"),
    ]
    return {
        "machine": "2 CPU cores (AMD EPYC), no GPU",
        "date": "2026-12-02 02:00 UTC",
        "commands": ["python benchmarks/cross_corpus_matrix.py --runs_dir /work/runs"],
        "corpora": CORPORA,
        "label_sets": ["shared", FOUR],
        "rows": {name: {"corpora": corpora} for name, corpora in rows.items()},
        "cells": cells,
        "targets": {
            "unseen": {"shared": 0.50, FOUR: 0.67},
            "in_corpus": {"row": "general", "corpus": "ravdess_speech", "labels": "shared", "at_least": 0.75},
        },
    }


@pytest.fixture(scope="module")
def matrix_tables():
    return _load("matrix_tables")


def test_leave_one_out_judges_each_corpus_by_the_row_trained_without_it(matrix_tables):
    judged = {(j["corpus"], j["kind"]): j for j in matrix_tables.leave_one_out(make_matrix())}
    crema_d = judged["crema_d", "cross-corpus"]
    assert crema_d["row"] == "speech-song"
    assert crema_d["shared"] == {"ua": 0.41, "at_least": 0.5, "met": False}
    assert crema_d[FOUR]["met"] is True
    speech = judged["ravdess_speech", "cross-channel"]
    assert (
        speech["row"] == "song-crema-d" and speech["shared"]["met"] is True and speech[FOUR]["met"] is False
    )
    assert judged["ravdess_song", "cross-channel"]["row"] is None
    assert judged["ravdess_song", "cross-channel"]["shared"]["ua"] is None


def test_leaving_ravdess_out_whole_judges_both_channels_by_the_row_without_either(matrix_tables):
    """Song and speech share their actors: only the row trained on neither is a new corpus for them."""
    judged = [j for j in matrix_tables.leave_one_out(make_matrix()) if j["kind"] == "cross-corpus"]
    speech, song = (next(j for j in judged if j["corpus"] == c) for c in ("ravdess_speech", "ravdess_song"))
    assert speech["row"] == "crema-d" and speech["shared"] == {"ua": 0.52, "at_least": 0.5, "met": True}
    assert song["row"] == "crema-d" and song["shared"]["ua"] is None  # the crema-d row has no song cell here
    assert matrix_tables.in_corpus_target(make_matrix())["met"] is True


def test_report_renders_the_matrix_and_its_verdicts(tmp_path):
    (tmp_path / "finetune.json").write_text(json.dumps(_store({})))
    (tmp_path / "cross_corpus_matrix.json").write_text(json.dumps(make_matrix()))
    (tmp_path / "cross_corpus_matrix.md").write_text("## the script's copy of the same tables\n")

    report = _load("make_report").build(tmp_path)

    section = report.split("## Cross-corpus matrix: speakers never heard")[1]
    assert (
        "| RAVDESS speech + RAVDESS song (`speech-song`) | - | - | corpus 0.410 (6 cl., 1880 clips, 91 spk.) |"
        in section
    )
    assert (
        "| CREMA-D subset | RAVDESS speech + RAVDESS song (`speech-song`) | cross-corpus | 0.410 | no | 0.700 | yes |"
        in section
    )
    assert "| RAVDESS song | no such row | cross-channel | not measured | – | not measured | – |" in section
    assert (
        "| RAVDESS speech | CREMA-D subset (`crema-d`) | cross-corpus | 0.520 | yes | 0.440 | no |" in section
    )
    assert "every corpus left out: **not met** (2 of 5 left-out scores; 2 not measured)" in section
    assert "on RAVDESS speech (its test speakers) ≥ 0.75: 0.780, **met**" in section
    assert "the script's copy" not in report


def test_report_says_the_matrix_has_not_been_run(tmp_path):
    (tmp_path / "finetune.json").write_text(json.dumps(_store({})))
    report = _load("make_report").build(tmp_path)
    assert "Not measured yet: the cross-corpus matrix has not been run" in report
