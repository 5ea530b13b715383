"""Speaker-adaptive scoring as a scorer option: a scorer's pooled features, judged by a speaker-adaptive head.

The recognizer decodes and cuts the audio as in clip-by-clip mode and hands the signals here; the
scorer (torch, or an ONNX export whose graph gives the pooled hidden states) encodes them, and the
head standardises each speaker's features on that speaker's own clips (see
:mod:`hf_emotion.serving.speaker_adaptive` for why, and when it misleads).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

import numpy as np

from hf_emotion.serving.scorers import FeatureScorer, Scorer
from hf_emotion.serving.speaker_adaptive import (
    DEFAULT_MAX_SECONDS,
    HEAD_FILE,
    MIN_CLIPS_PER_SPEAKER,
    SpeakerAdaptiveHead,
    check_speakers,
    warn_if_few_clips,
)
from hf_emotion.serving.windows import rms_dbfs

logger = logging.getLogger(__name__)

#: Windows of a long recording are encoded this many batches at a time: memory stays bounded.
WINDOW_BATCHES_PER_PASS = 4
#: Features of a window are encoded in batches of this many (as the windows of a recording always were).
WINDOW_BATCH_SIZE = 8


class SpeakerAdaptiveScoring:
    """A scorer of one model and the speaker-adaptive head saved with it.

    Args:
        scorer: the model's scorer; it must give pooled features (an ensemble has no one feature space).
        head: the model's :class:`SpeakerAdaptiveHead`, or ``None`` (an error that says how to add one).
        batch_size: clips per encoder pass.

    Raises:
        ValueError: the scorer cannot give pooled features, or there is no head; the message says what to do.
    """

    def __init__(self, scorer: Scorer, head: SpeakerAdaptiveHead | None, *, batch_size: int) -> None:
        if not hasattr(scorer, "pooled_features"):
            raise ValueError(
                f"speaker-adaptive mode needs a torch model folder with {HEAD_FILE} (or its ONNX export), not an "
                "ensemble of models: load that one model folder (the one hf-emotion adapt wrote the head into)"
            )
        if head is None:
            raise ValueError(
                f"this model has no {HEAD_FILE}, which speaker-adaptive mode needs: add one with hf-emotion "
                "adapt --model MODEL_DIR --dataset ... --data_dir ... --split_file MODEL_DIR/splits.json "
                "(or train with --speaker_adaptive_head)"
            )
        if not getattr(scorer, "has_pooled_features", True):
            raise ValueError(
                "this ONNX export has no pooled_hidden_states output, which speaker-adaptive mode needs: export "
                "the model folder again with this version of hf-emotion export"
            )
        self.scorer: FeatureScorer = scorer
        self.head = head
        self.batch_size = batch_size

    @property
    def labels(self) -> list[str]:
        return self.head.labels

    @property
    def sampling_rate(self) -> int:
        return self.scorer.sampling_rate

    def encode(
        self, signals: Sequence[np.ndarray], *, max_seconds: float | None = DEFAULT_MAX_SECONDS
    ) -> np.ndarray:
        """``(N, L, H)`` pooled features of mono signals at :attr:`sampling_rate`, each cut to its first
        ``max_seconds`` (as ``hf-emotion evaluate`` and the head's fitting cut them)."""
        if max_seconds:
            limit = int(max_seconds * self.sampling_rate)
            signals = [signal[:limit] for signal in signals]
        return self.scorer.pooled_features(signals, batch_size=self.batch_size)

    def probabilities(
        self,
        signals: Sequence[np.ndarray],
        speakers: Sequence[str],
        *,
        max_seconds: float | None = DEFAULT_MAX_SECONDS,
    ) -> np.ndarray:
        """``(N, K)`` head probabilities, each signal (cut to ``max_seconds``) standardised with the other
        signals of its speaker."""
        check_speakers(speakers)
        warn_if_few_clips(speakers)
        return self.head.probabilities(self.encode(signals, max_seconds=max_seconds), speakers)

    def probabilities_against(self, signals: Sequence[np.ndarray], reference: np.ndarray) -> np.ndarray:
        """``(N, K)`` probabilities of new clips of one speaker, each standardised with that speaker's
        ``reference`` features (from :meth:`encode`) only: a clip's answer does not depend on the others."""
        check_reference(reference)
        return self.head.probabilities_against(self.encode(signals), reference)

    def judge_windows(
        self,
        windows: Iterable[tuple[int, np.ndarray]],
        *,
        source: str,
        window_samples: int,
        silence_threshold_db: float | None,
        speaker: str,
    ) -> tuple[list[tuple[int, int]], np.ndarray]:
        """One speaker's windows (``(start sample, samples)``), each judged against the other speech windows.

        Windows quieter than ``silence_threshold_db`` are left out (silence would count as the speaker's usual
        self), and so is a last window shorter than half a window; the log says how many.

        Returns:
            ``(start, end)`` samples of the judged windows and their ``(W, K)`` probabilities.

        Raises:
            ValueError: fewer than ``MIN_CLIPS_PER_SPEAKER`` speech windows.
        """
        spans: list[tuple[int, int]] = []
        parts: list[np.ndarray] = []
        pending: list[np.ndarray] = []
        silent = short = 0
        for start, samples in windows:
            if len(samples) < window_samples / 2:
                short += 1
            elif silence_threshold_db is not None and rms_dbfs(samples) < silence_threshold_db:
                silent += 1
            else:
                pending.append(samples)
                spans.append((start, start + len(samples)))
                if len(pending) >= WINDOW_BATCHES_PER_PASS * self.batch_size:
                    parts.append(self._encode_windows(pending))
                    pending = []
        if pending:
            parts.append(self._encode_windows(pending))
        if silent or short:
            logger.info("%s: left out %d silent windows and %d short last windows", source, silent, short)
        if len(spans) < MIN_CLIPS_PER_SPEAKER:
            seconds = window_samples / self.sampling_rate
            raise ValueError(
                f"{source}: {len(spans)} speech windows of {seconds:g} s; speaker-adaptive mode needs at least "
                f"{MIN_CLIPS_PER_SPEAKER} (give a longer recording or a shorter window/hop)"
            )
        return spans, self.head.probabilities(np.concatenate(parts), [speaker] * len(spans))

    def _encode_windows(self, windows: list[np.ndarray]) -> np.ndarray:
        return self.scorer.pooled_features(windows, batch_size=WINDOW_BATCH_SIZE)


def check_reference(reference: np.ndarray) -> None:
    """A ``ValueError`` when a speaker's reference clips are too few to judge a new clip against."""
    if len(reference) < MIN_CLIPS_PER_SPEAKER - 1:
        raise ValueError(
            f"{len(reference)} reference clips; speaker-adaptive mode judges a clip against at least "
            f"{MIN_CLIPS_PER_SPEAKER - 1} others of the same speaker"
        )


__all__ = ["SpeakerAdaptiveScoring", "check_reference"]
