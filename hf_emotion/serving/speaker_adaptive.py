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
Here: the head (load, save, apply) and what its results are; the recognizer asks any scorer of one
model for the pooled features it judges (:mod:`hf_emotion.serving.adaptive_scoring`). Choosing ``C``
and fitting on a corpus with a model is training's
(:mod:`hf_emotion.training.speaker_adaptive_head`, ``hf-emotion adapt``).
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from hf_emotion.evaluation.speaker_normalisation import standardize_per_speaker
from hf_emotion.model.files import SPEAKER_ADAPTIVE_HEAD_FILE

logger = logging.getLogger(__name__)

HEAD_FILE = SPEAKER_ADAPTIVE_HEAD_FILE
#: Fewer clips of a speaker are refused: their mean and spread would be noise.
MIN_CLIPS_PER_SPEAKER = 4
#: Clips are cut to this many seconds before encoding, as ``hf-emotion evaluate`` cuts them.
DEFAULT_MAX_SECONDS = 20.0
#: Fewer clips than this are classified with a warning. Measured (benchmarks/results/speaker_adaptive_clips.md,
#: Whisper tiny.en fold 0): with 4 clips a speaker the mode already beats clip-by-clip prediction on corpora
#: the model never heard (RAVDESS song 0.605 against 0.481 UA) but not on its own corpus's new speakers
#: (0.782 against 0.809); it catches up there at 5 (0.816) and keeps gaining to 20 (0.904).
RECOMMENDED_CLIPS_PER_SPEAKER = 10
#: What results made with the head say about themselves.
MODE = "speaker_adaptive"


def check_speakers(speakers: Sequence[str], minimum: int = MIN_CLIPS_PER_SPEAKER) -> None:
    """A ``ValueError`` naming the speakers with too few clips to standardise on."""
    few = sorted(s for s, n in Counter(speakers).items() if n < minimum)
    if few:
        shown = ", ".join(few[:5]) + (" ..." if len(few) > 5 else "")
        raise ValueError(
            f"speaker-adaptive mode needs at least {minimum} clips of each speaker; {len(few)} speakers have "
            f"fewer ({shown}). Give more clips per speaker, or score clip by clip."
        )


def warn_if_few_clips(speakers: Sequence[str]) -> None:
    """Log a warning naming the speakers with fewer clips than recommended (their answers are noisy)."""
    few = [f"{s} ({n})" for s, n in sorted(Counter(speakers).items()) if n < RECOMMENDED_CLIPS_PER_SPEAKER]
    if few:
        logger.warning(
            "speaker-adaptive predictions from fewer than %d clips are noisy: %s; give more clips of each "
            "speaker, in different moods",
            RECOMMENDED_CLIPS_PER_SPEAKER,
            ", ".join(few),
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

    def probabilities_against(self, features: np.ndarray, reference: np.ndarray) -> np.ndarray:
        """``(N, K)`` class probabilities of new clips of one speaker, each standardised together with the
        ``(M, ...)`` features of that speaker's ``reference`` clips (e.g. a voice's calibration clips, encoded
        once) and not with the other new clips: row ``i`` is the last row of :meth:`probabilities` over the
        reference clips and clip ``i``, so a clip's answer does not depend on which clips come with it."""
        reference = np.asarray(reference).reshape(len(reference), -1)
        features = np.asarray(features).reshape(len(features), reference.shape[1])
        speakers = ["speaker"] * (len(reference) + 1)
        rows = [
            self.probabilities(np.concatenate([reference, clip[None]]), speakers)[-1] for clip in features
        ]
        return np.stack(rows) if rows else np.zeros((0, len(self.labels)))

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
                f"{path} not found: this model has no speaker-adaptive head; add one with hf-emotion adapt "
                f"--model {folder} --dataset ... --data_dir ... --split_file ..."
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


@dataclass
class SpeakerAdaptivePrediction:
    """One clip's (or window's) emotion, judged against the other clips of its speaker.

    Attributes:
        probabilities: every label's probability, in the head's label order.
        label: the most probable label; confidence: its probability.
        speaker: the speaker the clip was standardised with.
        source: the file name, or ``"<array>"``; start, end: seconds within it.
        mode: always ``"speaker_adaptive"``: this result depends on the speaker's other clips.
    """

    probabilities: dict[str, float]
    label: str
    confidence: float
    speaker: str
    source: str
    start: float = 0.0
    end: float = 0.0
    mode: str = MODE

    def to_dict(self) -> dict:
        return asdict(self)


__all__ = [
    "DEFAULT_MAX_SECONDS",
    "HEAD_FILE",
    "MIN_CLIPS_PER_SPEAKER",
    "MODE",
    "RECOMMENDED_CLIPS_PER_SPEAKER",
    "SpeakerAdaptiveHead",
    "SpeakerAdaptivePrediction",
    "check_speakers",
    "warn_if_few_clips",
]
