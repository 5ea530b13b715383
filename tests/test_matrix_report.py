"""The cross-corpus matrix rendered from its JSON (benchmarks/matrix_tables.py) into BENCHMARKS.md
(benchmarks/make_report.py): the leave-one-corpus-out cells judged from the data."""

from __future__ import annotations

import json

import pytest

from tests.test_benchmark_report import _load, _store

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
        "general": list(CORPORA),
    }
    cells = [
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
    judged = {j["corpus"]: j for j in matrix_tables.leave_one_out(make_matrix())}
    assert judged["crema_d"]["row"] == "speech-song" and judged["crema_d"]["kind"] == "cross-corpus"
    assert judged["crema_d"]["shared"] == {"ua": 0.41, "at_least": 0.5, "met": False}
    assert judged["crema_d"][FOUR]["met"] is True
    assert (
        judged["ravdess_speech"]["shared"]["met"] is True and judged["ravdess_speech"][FOUR]["met"] is False
    )
    assert judged["ravdess_song"]["row"] is None and judged["ravdess_song"]["shared"]["ua"] is None
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
    assert "every corpus left out: **not met** (1 of 3 corpora; 1 not measured)" in section
    assert "on RAVDESS speech (its test speakers) ≥ 0.75: 0.780, **met**" in section
    assert "the script's copy" not in report


def test_report_says_the_matrix_has_not_been_run(tmp_path):
    (tmp_path / "finetune.json").write_text(json.dumps(_store({})))
    report = _load("make_report").build(tmp_path)
    assert "Not measured yet: the cross-corpus matrix has not been run" in report
