"""benchmarks.cross_corpus_matrix: rows trained through benchmarks.run_finetune (real subprocesses, a tiny
encoder, synthetic corpora), resumed, and scored on the speakers each row never heard."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from hf_emotion.data.splits import Split
from hf_emotion.training.finetune import parse_args as finetune_args
from tests.benchmarks.test_generalisation_benchmarks import _script
from tests.serving.test_inference import LABELS, make_emotion_model_dir
from tests.synth import make_ravdess_tree

TINY_TRAINING = [
    *("--num_folds", "3", "--max_steps", "2", "--linear_probe_epochs", "1", "--refit_heads_epochs", "1"),
    *("--per_device_train_batch_size", "8", "--per_device_eval_batch_size", "16", "--logging_steps", "1"),
]


@pytest.fixture(scope="module")
def matrix_module():
    return _script("cross_corpus_matrix")


@pytest.fixture(scope="module")
def matrix_run(tmp_path_factory, ravdess_dir, crema_d_dir, tiny_wav2vec2_dir, matrix_module):
    """Rows song and song-crema-d trained, speech given as a folder with a split: (root, argv, matrix JSON)."""
    root = tmp_path_factory.mktemp("matrix")
    song = make_ravdess_tree(root / "song", actors=range(1, 7), channel="song")
    speech_model = make_emotion_model_dir(tiny_wav2vec2_dir, root / "speech-model", labels=LABELS)
    Split("speaker_folds", [f"ravdess-0{i}" for i in range(3, 9)], ["ravdess-02"], ["ravdess-01"]).to_json(
        speech_model / "splits.json"
    )
    data = [f"ravdess_speech={ravdess_dir}", f"ravdess_song={song}", f"crema_d={crema_d_dir}"]
    argv = [
        *("--runs_dir", str(root / "runs"), "--rows", "song", "song-crema-d", "--data", *data),
        *("--model", f"speech={speech_model}", "--output", str(root / "matrix.md")),
        *("--", "--model_name_or_path", str(tiny_wav2vec2_dir), *TINY_TRAINING),
    ]
    assert matrix_module.main(argv) == 0
    return root, argv, json.loads((root / "matrix.json").read_text())


def _cell(matrix, row, corpus, labels="shared"):
    return next(c for c in matrix["cells"] if (c["row"], c["corpus"], c["labels"]) == (row, corpus, labels))


def test_each_row_is_trained_through_run_finetune_on_its_run_file(matrix_run):
    root, _, matrix = matrix_run
    for row, datasets in (("song", ["ravdess_song"]), ("song-crema-d", ["ravdess_song", "crema_d"])):
        info = json.loads((root / "runs" / row / "fold_0" / "run_info.json").read_text())
        assert info["exit_code"] == 0 and info["config"].endswith(matrix["rows"][row]["config"])
        assert finetune_args(info["argv"])[1].dataset == datasets
    assert set(matrix["rows"]) == {"speech", "song", "song-crema-d"}
    assert len(matrix["commands"]) == 3 and "benchmarks.run_finetune run" in matrix["commands"][1]


def test_cells_score_the_speakers_each_row_never_heard(matrix_run, ravdess_dir):
    root, _, matrix = matrix_run
    split = Split.from_json(root / "runs" / "song" / "fold_0" / "splits.json")
    heard = set(split.train) | set(split.validation)
    in_corpus, channel = _cell(matrix, "song", "ravdess_song"), _cell(matrix, "song", "ravdess_speech")
    assert in_corpus["kind"] == "in-corpus" and in_corpus["speakers"] == len(split.test)
    # speech: the 8 actors but those the song model trained or chose its checkpoint on
    assert channel["kind"] == "cross-channel" and channel["speakers"] == 8 - len(heard)
    crema = _cell(matrix, "song", "crema_d")
    # all 6 actors, 22 clips each but the 4 of disgust, which a song model cannot predict
    assert (crema["kind"], crema["speakers"], crema["clips"]) == ("cross-corpus", 6, 6 * 18)
    speech_own = _cell(matrix, "speech", "ravdess_speech", "angry,happy,neutral,sad")
    assert (speech_own["speakers"], speech_own["scored_labels"]) == (1, ["neutral", "happy", "sad", "angry"])


def test_leave_one_out_cells_are_judged_and_missing_rows_said(matrix_run):
    root, _, matrix = matrix_run
    judged = {(j["corpus"], j["kind"]): j for j in matrix["leave_one_out"]}
    speech = judged["ravdess_speech", "cross-channel"]  # song + CREMA-D is the row without speech
    assert speech["row"] == "song-crema-d" and speech["kind"] == "cross-channel"
    ua = _cell(matrix, "song-crema-d", "ravdess_speech")["ua"]
    assert speech["shared"] == {"ua": ua, "at_least": 0.5, "met": ua >= 0.5}
    assert judged["crema_d", "cross-corpus"]["shared"]["ua"] is None  # speech + song was not run
    assert matrix["in_corpus_target"]["ua"] is None  # nor the general row
    text = (root / "matrix.md").read_text()
    assert "| CREMA-D subset | no such row | cross-corpus | not measured | – |" in text
    assert f"| RAVDESS song (`song`) | channel {_cell(matrix, 'song', 'ravdess_speech')['ua']:.3f} (" in text


def test_a_second_run_keeps_the_trained_folds(matrix_run, matrix_module):
    root, argv, _ = matrix_run
    model = root / "runs" / "song" / "fold_0" / "model.safetensors"
    before = model.stat().st_mtime_ns
    second = [a if a != str(root / "matrix.md") else str(root / "again.md") for a in argv]

    assert matrix_module.main(second) == 0

    again = json.loads((root / "again.json").read_text())
    assert len(again["commands"]) == 1 and model.stat().st_mtime_ns == before


def test_a_fold_being_trained_elsewhere_is_not_touched(tmp_path, matrix_module):
    fold = tmp_path / "runs" / "song" / "fold_0"
    fold.mkdir(parents=True)
    (fold / "finetune.log").write_text("epoch 1\n")
    args = matrix_module.parse_args(["--runs_dir", str(tmp_path / "runs"), "--rows", "song"])
    row = next(r for r in matrix_module.ROWS if r.name == "song")

    with pytest.raises(SystemExit, match="a training seems to be running there"):
        matrix_module.trained_folds(row, args, {})
    stale = time.time() - matrix_module.BUSY_LOG_SECONDS - 60
    os.utime(fold / "finetune.log", (stale, stale))
    assert not matrix_module.training_elsewhere(fold)


def test_every_row_names_a_run_file_over_its_corpora_in_order(matrix_module, tmp_path):
    for row in matrix_module.ROWS:
        dirs = [str(tmp_path / c) for c in row.corpora]
        _, data_args, _ = finetune_args(
            [str(Path(matrix_module.ROOT) / row.config), *row.flags, "--data_dir", *dirs]
        )
        assert len(data_args.dataset) == len(row.corpora), row.name
        for dataset, corpus in zip(data_args.dataset, row.corpora, strict=True):
            assert corpus.startswith(dataset), (row.name, dataset, corpus)
        assert data_args.data_dir == dirs
    assert {frozenset(r.corpora) for r in matrix_module.ROWS} == {
        frozenset(s)
        for s in ({"ravdess_speech"}, {"ravdess_song"}, {"crema_d"}, *_pairs(), set(matrix_module.CORPORA))
    }


def _pairs():
    corpora = ["ravdess_speech", "ravdess_song", "crema_d"]
    return [set(corpora) - {c} for c in corpora]
