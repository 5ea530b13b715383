"""Speaker-adaptive classification: a head on encoder features standardised on each speaker's own clips.

A voice differs from the training voices in pitch, loudness and timbre far more than one
emotion differs from another in the same voice. Standardising the encoder's pooled features
on a speaker's own clips removes that speaker's offset and spread, so a classifier trained on
features standardised the same way (per training speaker) sees only how each clip departs
from that voice's average: the lever behind the jump from ~0.4 to ~0.6 UA on unseen corpora in
issue 17's measurements.

It needs several clips of one speaker at once, and it misleads when those clips are not
varied: a speaker who is angry in every clip has "angry" as their average, and the head sees
only departures from it. The results of this mode must say so (``mode="speaker_adaptive"``).

The head is saved next to the model as ``speaker_adaptive_head.npz`` (arrays only, no pickle).
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .metrics import SPEAKER_PROBE_CS, classification_metrics, standardize_per_speaker

logger = logging.getLogger(__name__)

HEAD_FILE = "speaker_adaptive_head.npz"
MIN_CLIPS_PER_SPEAKER = 4


def check_speakers(speakers: Sequence[str], minimum: int = MIN_CLIPS_PER_SPEAKER) -> None:
    """A ``ValueError`` naming the speakers with too few clips to standardise on."""
    few = sorted(s for s, n in Counter(speakers).items() if n < minimum)
    if few:
        shown = ", ".join(few[:5]) + (" ..." if len(few) > 5 else "")
        raise ValueError(
            f"speaker-adaptive mode needs at least {minimum} clips of each speaker; {len(few)} speakers have "
            f"fewer ({shown}). Give more clips per speaker, or score clip by clip."
        )


@dataclass
class SpeakerAdaptiveHead:
    """A logistic regression over per-speaker standardised pooled features (every layer, flattened)."""

    labels: list[str]
    mean: np.ndarray  # (D,) of the per-speaker standardised training features
    scale: np.ndarray  # (D,)
    coef: np.ndarray  # (K, D)
    intercept: np.ndarray  # (K,)
    C: float

    @classmethod
    def fit(
        cls,
        features: np.ndarray,
        labels: Sequence[int],
        speakers: Sequence[str],
        label_names: Sequence[str],
        C: float,
    ) -> SpeakerAdaptiveHead:
        """Fit on ``(N, ...)`` pooled features of training clips, each speaker standardised on their own clips."""
        from sklearn.linear_model import LogisticRegression

        check_speakers(speakers)
        x = standardize_per_speaker(np.asarray(features).reshape(len(features), -1), speakers)
        mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
        present = sorted(set(int(y) for y in labels))
        if present != list(range(len(label_names))):
            raise ValueError(f"the training clips must cover every label of {list(label_names)}")
        model = LogisticRegression(C=C, max_iter=2000).fit((x - mean) / scale, np.asarray(labels))
        return cls(list(label_names), mean, scale, model.coef_, model.intercept_, float(C))

    def probabilities(self, features: np.ndarray, speakers: Sequence[str]) -> np.ndarray:
        """``(N, K)`` class probabilities; every speaker's clips are standardised on themselves first."""
        check_speakers(speakers)
        x = standardize_per_speaker(np.asarray(features).reshape(len(features), -1), speakers)
        logits = ((x - self.mean) / self.scale) @ self.coef.T + self.intercept
        if logits.shape[1] == 1:  # sklearn's binary case: one column for the second class
            logits = np.concatenate([np.zeros_like(logits), logits], axis=1)
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def save(self, folder: str | os.PathLike) -> Path:
        path = Path(folder) / HEAD_FILE
        np.savez(
            path,
            labels=np.array(self.labels),
            mean=self.mean,
            scale=self.scale,
            coef=self.coef,
            intercept=self.intercept,
            C=np.array(self.C),
        )
        return path

    @classmethod
    def load(cls, folder: str | os.PathLike) -> SpeakerAdaptiveHead:
        path = Path(folder) / HEAD_FILE
        if not path.exists():
            raise FileNotFoundError(
                f"{path} not found: this model has no speaker-adaptive head; fit one with "
                "hf_emotion.speaker_adaptive.fit_speaker_adaptive_head and save it next to the model"
            )
        with np.load(path, allow_pickle=False) as saved:
            return cls(
                labels=[str(x) for x in saved["labels"]],
                mean=saved["mean"],
                scale=saved["scale"],
                coef=saved["coef"],
                intercept=saved["intercept"],
                C=float(saved["C"]),
            )


def fit_speaker_adaptive_head(
    train: tuple[np.ndarray, Sequence[int], Sequence[str]],
    validation: tuple[np.ndarray, Sequence[int], Sequence[str]],
    label_names: Sequence[str],
    Cs: Sequence[float] = SPEAKER_PROBE_CS,
) -> tuple[SpeakerAdaptiveHead, dict[str, float]]:
    """Choose ``C`` on the validation speakers' UA, then refit on training + validation speakers.

    Each part is ``(features, labels, speakers)``. Returns the head and
    ``{"validation_adaptive_ua": ..., "adaptive_C": ...}``.
    """
    best_ua, best_c = -1.0, Cs[0]
    for c in Cs:
        head = SpeakerAdaptiveHead.fit(*train, label_names, C=c)
        predicted = head.probabilities(validation[0], validation[2]).argmax(axis=1)
        ua = classification_metrics(validation[1], predicted, label_names)["ua"]
        logger.info("speaker-adaptive head, C=%g: validation UA %.3f", c, ua)
        if ua > best_ua:
            best_ua, best_c = ua, c
    features = np.concatenate([np.asarray(train[0]), np.asarray(validation[0])])
    labels = [*train[1], *validation[1]]
    speakers = [*train[2], *validation[2]]
    head = SpeakerAdaptiveHead.fit(features, labels, speakers, label_names, C=best_c)
    return head, {"validation_adaptive_ua": best_ua, "adaptive_C": float(best_c)}
