"""A tiny model folder as a run leaves it: weights, card, splits.json, run_identity.json and results, over a
synthetic RAVDESS tree (actors 1-4 train, 5-6 validate, 7-8 test)."""

from __future__ import annotations

import json
from pathlib import Path

from hf_emotion.data.labels import EMOTIONS
from hf_emotion.data.splits import Split
from hf_emotion.hub.card import build_model_card
from tests.serving.test_inference import make_emotion_model_dir

TRAIN = ["ravdess-01", "ravdess-02", "ravdess-03", "ravdess-04"]
VALIDATION = ["ravdess-05", "ravdess-06"]
TEST = ["ravdess-07", "ravdess-08"]
TEST_UA, FOLDS_UA, FOLDS_STD, FOLDS = 0.61, 0.55, 0.04, 3
UNSEEN_UA = 0.31
#: The cross-corpus matrix of the recipe: trained on RAVDESS speech, scored on CREMA-D's speakers.
MATRIX = {
    "date": "2026-12-01",
    "machine": "2 CPU cores",
    "corpora": {"ravdess_speech": "RAVDESS speech", "crema_d": "CREMA-D subset"},
    "rows": {"speech": {"corpora": ["ravdess_speech"]}},
    "cells": [
        {
            "row": "speech",
            "corpus": "crema_d",
            "labels": "shared",
            "kind": "cross-corpus",
            "ua": UNSEEN_UA,
            "clips": 120,
            "speakers": 6,
            "scored_labels": ["angry", "disgust", "fearful", "happy", "neutral", "sad"],
        }
    ],
}


def make_carded_model(
    encoder_dir: Path, ravdess_dir: Path, out: Path, *, protocol: str = "speaker_folds"
) -> Path:
    """The model folder, its run recorded as trained on ``ravdess_dir`` (``--dataset ravdess``)."""
    folder = make_emotion_model_dir(encoder_dir, out, labels=list(EMOTIONS))
    split = Split(protocol, train=TRAIN, validation=VALIDATION, test=TEST, fold=0, num_folds=FOLDS)
    split.to_json(folder / "splits.json")
    metrics = {"eval_ua": TEST_UA, "eval_wa": 0.63}
    (folder / "all_results.json").write_text(json.dumps(metrics))
    identity = {"dataset": ["ravdess"], "data_dir": [str(ravdess_dir)], "ravdess_channel": "speech"}
    (folder / "run_identity.json").write_text(json.dumps(identity))
    summary = {"eval_ua": {"mean": FOLDS_UA, "std": FOLDS_STD, "n": FOLDS}}
    build_model_card(
        repo_id="someone/tiny-ravdess",
        base_model="openai/whisper-tiny.en",
        datasets=["ravdess"],
        label_names=list(EMOTIONS),
        metrics=metrics,
        split=vars(split),
        summary=summary,
        cross_corpus=MATRIX,
        trained_corpora=["ravdess_speech"],
    ).save(folder / "README.md")
    return folder
