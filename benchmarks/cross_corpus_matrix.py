#!/usr/bin/env python
"""Cross-corpus matrix: train the recipe on each set of corpora, score every row on every corpus.

Rows are training sets, each a run file (``ROWS``): RAVDESS speech, RAVDESS song, the CREMA-D
subset, each pair (leaving the third corpus out), and all three (the general run file). Fold 0
of each (``--folds``) is trained through ``python -m benchmarks.run_finetune run`` into
``RUNS_DIR/ROW/fold_k``; a fold already trained there is kept, an interrupted one resumes, so the
script can be run again after a stop. ``--model ROW=FOLDER`` scores a folder trained earlier
instead. Then every row's model is scored on every corpus, on the clips of speakers it never
trained or chose its checkpoint on (``cross_corpus_ua``'s rule: the train and validation speakers
of its ``splits.json`` are left out), over the labels both sides share and over
angry/happy/neutral/sad. Each cell is in-corpus, cross-channel (RAVDESS song against speech,
actors never heard) or cross-corpus; the leave-one-corpus-out cells are judged against the
targets of issue 17.

    OMP_NUM_THREADS=1 python -m benchmarks.cross_corpus_matrix --runs_dir /work/runs \\
        --data ravdess_speech=/data/ravdess-speech ravdess_song=/data/ravdess-song crema_d=/data/crema-d-subset \\
        --model speech=/work/models/tiny-ravdess-fold0 [--rows song crema-d] [-- <finetune.py flags>]

writes ``benchmarks/results/cross_corpus_matrix.json`` (and the same tables as ``.md``);
``python -m benchmarks.make_report`` renders it into BENCHMARKS.md.
"""

from __future__ import annotations

import logging
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.common.arguments import (
    add_output,
    add_scoring,
    described_parser,
    key_value,
    split_finetune_args,
)
from benchmarks.common.paths import ROOT
from benchmarks.common.reports import command_line, utc_now, write_report
from benchmarks.common.runs import heard_speakers
from benchmarks.common.scoring import ScoreCache, score_cell, unseen_clips
from benchmarks.common.test_sets import TestSet
from benchmarks.matrix_tables import in_corpus_target, leave_one_out, render
from hf_emotion import EmotionRecognizer
from hf_emotion.evaluation.machine import describe_machine
from hf_emotion.evaluation.unseen_corpora import FOUR_CLASSES, cell_kind
from hf_emotion.hub.card import base_model_id

logger = logging.getLogger("cross_corpus_matrix")

CORPORA = {"ravdess_speech": "RAVDESS speech", "ravdess_song": "RAVDESS song", "crema_d": "CREMA-D subset"}
DEFAULT_DATA = {
    "ravdess_speech": "../shared/data/ravdess-speech",
    "ravdess_song": "../shared/data/ravdess-song",
    "crema_d": "../shared/data/crema-d-subset",
}
LABEL_SETS = ("shared", FOUR_CLASSES)
#: Issue 17: the general model on corpora it never trained on, and in-corpus on RAVDESS speech.
TARGETS = {
    "unseen": {"shared": 0.50, FOUR_CLASSES: 0.67},
    "in_corpus": {"row": "general", "corpus": "ravdess_speech", "labels": "shared", "at_least": 0.75},
}
# A training writes its log at least every few minutes; a fold with a fresher log and no run_info.json
# is being trained by someone else right now.
BUSY_LOG_SECONDS = 15 * 60


@dataclass(frozen=True)
class Row:
    name: str  # also the run folder under --runs_dir
    corpora: tuple[str, ...]  # in the run file's --dataset order: --data_dir follows it
    config: str
    flags: tuple[str, ...] = ()  # finetune.py flags over the run file


ROWS = (
    Row("speech", ("ravdess_speech",), "configs/whisper-tiny.en-ravdess-speech.json"),
    Row("song", ("ravdess_song",), "configs/whisper-tiny.en-ravdess-song.json"),
    Row("crema-d", ("crema_d",), "configs/whisper-tiny.en-crema-d.json"),
    Row(
        "speech-song", ("ravdess_speech", "ravdess_song"), "configs/whisper-tiny.en-ravdess-speech-song.json"
    ),
    Row(
        "speech-crema-d", ("ravdess_speech", "crema_d"), "configs/whisper-tiny.en-ravdess-speech-crema-d.json"
    ),
    Row("song-crema-d", ("ravdess_song", "crema_d"), "configs/whisper-tiny.en-ravdess-song-crema-d.json"),
    # the folds only: the matrix scores fold models, and the final model has no unseen speaker left
    Row("general", tuple(CORPORA), "configs/whisper-tiny.en-general.json", ("--final_model", "false")),
)
ROW_NAMES = [row.name for row in ROWS]


def parse_args(argv: list[str]):
    parser = described_parser(__doc__)
    parser.add_argument("--runs_dir", required=True, help="where each row trains: RUNS_DIR/ROW/fold_k")
    parser.add_argument(
        "--rows", nargs="+", choices=ROW_NAMES, default=ROW_NAMES, help="rows to train and score"
    )
    parser.add_argument("--folds", type=int, nargs="+", default=[0], help="folds of each row's run file")
    parser.add_argument(
        "--model",
        type=key_value,
        action="append",
        default=[],
        help="ROW=FOLDER: score this model, train nothing",
    )
    parser.add_argument(
        "--data",
        type=key_value,
        nargs="+",
        default=[],
        help="CORPUS=FOLDER for " + ", ".join(CORPORA) + " (default: the run files' ../shared/data folders)",
    )
    add_scoring(parser)
    add_output(parser, "cross_corpus_matrix.md")
    # Everything after a bare `--` goes to finetune.py for every row trained (run_finetune's convention).
    own, finetune_args = split_finetune_args(argv)
    args = parser.parse_args(own)
    args.finetune_args = finetune_args
    return args


def data_folders(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Each corpus's folder: ``--data`` over the defaults (relative to the repository root, as in run files)."""
    unknown = [key for key, _ in pairs if key not in CORPORA]
    if unknown:
        raise SystemExit(f"--data {', '.join(unknown)}: not a corpus of the matrix; use {', '.join(CORPORA)}")
    folders = {key: str((ROOT / path).resolve()) for key, path in DEFAULT_DATA.items()} | dict(pairs)
    missing = [f"{key}={path}" for key, path in folders.items() if not Path(path).is_dir()]
    if missing:
        raise SystemExit(f"--data: no such folder {', '.join(missing)}; give CORPUS=FOLDER for each")
    return folders


def train_command(
    row: Row, run_dir: Path, folds: list[int], data: dict[str, str], extra: list[str]
) -> list[str]:
    """``run_finetune run`` for a row's folds, its corpora's folders in the run file's order."""
    return [
        *(sys.executable, "-m", "benchmarks.run_finetune", "run", row.config),  # run from the repository root
        *("--run_dir", str(run_dir), "--folds", *map(str, folds), "--"),
        *row.flags,
        *("--data_dir", *(data[c] for c in row.corpora)),
        *extra,
    ]


def training_elsewhere(fold_dir: Path) -> bool:
    """A fold being trained by another process: a recent log, no run_info.json yet."""
    log = fold_dir / "finetune.log"
    if not log.is_file() or (fold_dir / "run_info.json").is_file():
        return False
    return time.time() - log.stat().st_mtime < BUSY_LOG_SECONDS


def trained_folds(row: Row, args, data: dict[str, str]) -> tuple[list[Path], str | None]:
    """A row's fold folders, trained here first unless finished already; and the training command if one ran."""
    run_dir = Path(args.runs_dir) / row.name
    folds = [run_dir / f"fold_{k}" for k in args.folds]
    todo = [k for k, d in zip(args.folds, folds, strict=True) if not (d / "all_results.json").is_file()]
    if not todo:
        logger.info("%s: folds %s already trained in %s", row.name, args.folds, run_dir)
        return folds, None
    busy = [str(d) for d in folds if training_elsewhere(d)]
    if busy:
        raise SystemExit(
            f"{', '.join(busy)}: a training seems to be running there (its finetune.log is fresh and it has no "
            "run_info.json); run the matrix once it has finished, or pass --model ROW=FOLDER"
        )
    command = train_command(row, run_dir, todo, data, args.finetune_args)
    logger.info("%s: training folds %s: %s", row.name, todo, shlex.join(command))
    if subprocess.run(command, cwd=ROOT).returncode:
        raise SystemExit(f"{row.name}: training failed; see {run_dir}/fold_*/finetune.log")
    return folds, shlex.join(["python", *command[1:]])


def row_models(args, data: dict[str, str]) -> tuple[dict[str, list[str]], list[str]]:
    """Each chosen row's model folders (given with --model, else trained), and the training commands run."""
    given = dict(args.model)
    unknown = [name for name in given if name not in ROW_NAMES]
    if unknown:
        raise SystemExit(f"--model {', '.join(unknown)}: not a row; rows are {', '.join(ROW_NAMES)}")
    models, commands = {}, []
    for row in ROWS:
        if row.name in given:
            models[row.name] = [given[row.name]]
        elif row.name in args.rows:
            folds, command = trained_folds(row, args, data)
            models[row.name] = [str(d) for d in folds]
            commands += [command] if command else []
    return models, commands


def base_model_of(folders: list[str]) -> str | None:
    """The Hub id a row's models were fine-tuned from (their cards' ``base_model``), recorded so that
    ``hf-emotion card`` can check that a card quotes rows of its model's own recipe; None unless they agree."""
    found = {base_model_id(folder) for folder in folders}
    return found.pop() if len(found) == 1 else None


def aggregate(row: Row, corpus: str, labels: str, per_model: list[dict]) -> dict:
    """One matrix cell from its folds' scores: the mean UA, clips and speakers added over the folds."""
    scored = [m for m in per_model if m["eval_ua"] is not None]
    first = scored[0] if scored else {}
    return {
        "row": row.name,
        "corpus": corpus,
        "labels": labels,
        "kind": cell_kind(row.corpora, corpus),
        "ua": float(np.mean([m["eval_ua"] for m in scored])) if scored else None,
        "ua_by_fold": [m["eval_ua"] for m in per_model],
        "folds": len(per_model),
        "clips": sum(m["eval_clips"] for m in per_model),
        "speakers": sum(m["eval_speakers"] for m in per_model),
        "scored_labels": first.get("scored_labels", []),
        "model_labels_dropped": first.get("model_labels_dropped", []),
        "corpus_labels_dropped": first.get("corpus_labels_dropped", []),
        "unseen_only": all(m["unseen_only"] for m in per_model),
    }


def score_row(row: Row, folders: list[str], tests: dict[str, TestSet], decoded: dict, args) -> list[dict]:
    """A row's cells: each of its models on each corpus's unseen speakers, per label set, then aggregated."""
    scores = {(corpus, labels): [] for corpus in tests for labels in LABEL_SETS}
    for folder in folders:
        recognizer = ScoreCache(EmotionRecognizer.from_pretrained(folder, batch_size=args.batch_size))
        heard = heard_speakers(folder)
        if heard is None:
            logger.warning("%s: no splits.json in %s, so every clip is scored", row.name, folder)
        for corpus, test in tests.items():
            if (corpus, recognizer.sampling_rate) not in decoded:
                decoded[corpus, recognizer.sampling_rate] = test.load(recognizer.sampling_rate)
            clips = unseen_clips(decoded[corpus, recognizer.sampling_rate], heard)
            for labels in LABEL_SETS:
                cell = score_cell(
                    recognizer, clips, labels, batch_size=args.batch_size, max_seconds=args.max_seconds
                )
                scores[corpus, labels].append(cell | {"unseen_only": heard is not None})
    return [aggregate(row, corpus, labels, per_model) for (corpus, labels), per_model in scores.items()]


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    started = utc_now()
    data = data_folders(args.data)
    models, training_commands = row_models(args, data)
    tests = {corpus: TestSet(corpus, corpus, folder) for corpus, folder in data.items()}
    cells, decoded = [], {}
    for row in ROWS:
        if row.name in models:
            cells += score_row(row, models[row.name], tests, decoded, args)
    matrix = {
        "machine": describe_machine(),
        "date": started,
        "commands": [command_line("benchmarks.cross_corpus_matrix", argv), *training_commands],
        "corpora": CORPORA,
        "label_sets": list(LABEL_SETS),
        "rows": {
            row.name: {
                "corpora": list(row.corpora),
                "config": row.config,
                "flags": list(row.flags),
                "models": models[row.name],
                "base_model": base_model_of(models[row.name]),
            }
            for row in ROWS
            if row.name in models
        },
        "cells": cells,
        "targets": TARGETS,
    }
    matrix |= {"leave_one_out": leave_one_out(matrix), "in_corpus_target": in_corpus_target(matrix)}
    write_report(args.output, render(matrix), matrix, json_newline=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
