"""Scoring trained models on the clips of speakers they never heard, over the labels model and corpus share."""

from __future__ import annotations

import hashlib

import numpy as np

from hf_emotion.evaluation.cross_corpus import evaluate_corpus


class ScoreCache:
    """A recognizer that scores each distinct clip once: the label sets of one test set share its scores."""

    def __init__(self, recognizer):
        self.recognizer = recognizer
        self.labels, self.sampling_rate = recognizer.labels, recognizer.sampling_rate
        self.regression_targets = recognizer.regression_targets
        self._scores: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}

    def score(self, signals, *, batch_size=None):
        keys = [hashlib.sha1(np.ascontiguousarray(s).tobytes()).digest() for s in signals]
        missing = [i for i, key in enumerate(keys) if key not in self._scores]
        if missing:
            probabilities, regression = self.recognizer.score(
                [signals[i] for i in missing], batch_size=batch_size
            )
            for row, i in enumerate(missing):
                self._scores[keys[i]] = (probabilities[row], regression[row])
        return tuple(np.stack([self._scores[key][part] for key in keys]) for part in (0, 1))


def unseen_clips(decoded, heard: set[str] | None):
    """The clips of speakers not in ``heard`` (every clip when ``heard`` is None: nothing is known)."""
    if heard is None:
        return decoded
    return decoded.filter(lambda speaker: speaker not in heard, input_columns="speaker")


def label_subset(label_set: str) -> list[str] | None:
    """``shared`` → None (every label both sides have); ``a,b,c`` → that subset."""
    return None if label_set == "shared" else label_set.split(",")


def score_cell(recognizer, clips, label_set: str, *, batch_size: int, max_seconds: float | None) -> dict:
    """UA (and the rest of ``evaluate_corpus``'s metrics) of one cell over ``label_set`` (``shared`` or a
    comma-separated subset), with its clip and speaker counts; a cell without clips has ``eval_ua`` None."""
    if not len(clips):
        return {"eval_ua": None, "eval_clips": 0, "eval_speakers": 0}
    metrics, record = evaluate_corpus(
        recognizer, clips, labels=label_subset(label_set), batch_size=batch_size, max_seconds=max_seconds
    )
    return metrics | {"eval_speakers": len(set(record["speakers"]))}
