"""Scoring pieces of audio through a scorer: whole clips, sliding windows, speech segments.

Pieces quieter than the silence threshold are marked silent and never reach the model; the rest
are scored ``batch_size`` at a time, so memory is bounded whatever a recording's length. A
recording's summary is the running mean of its scored windows (or of its speech segments,
weighted by their duration).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import numpy as np

from hf_emotion.data.audio import AudioDecodeError
from hf_emotion.serving.inputs import PendingInput
from hf_emotion.serving.predictions import (
    EmotionPrediction,
    RunningMean,
    scored_prediction,
    silent_prediction,
)
from hf_emotion.serving.scorers import Scorer
from hf_emotion.serving.windows import array_blocks, rms_dbfs, sliding_windows

logger = logging.getLogger(__name__)

#: Share of a short recording that must lie 30 dB below its peak for the energy fallback of ``segments``.
FALLBACK_QUIET_SHARE = 0.1

#: ``(source, start seconds, samples)``: one piece of a recording on its way to the scorer.
Piece = tuple[str, float, np.ndarray]


class PieceScoring:
    """Clips, windows and speech segments scored through one scorer, silence marked, not scored.

    Args:
        scorer: what runs the model.
        silence_threshold_db: RMS level (dBFS) below which a piece is silent; ``None``: score everything.
        max_clip_seconds: speech segments longer than this are scored in windows.
        vad_pad_seconds: seconds of the recording kept around each speech segment (Silero's padding).
    """

    def __init__(
        self,
        scorer: Scorer,
        *,
        silence_threshold_db: float | None,
        max_clip_seconds: float,
        vad_pad_seconds: float = 0.0,
    ) -> None:
        self.scorer = scorer
        self.silence_threshold_db = silence_threshold_db
        self.max_clip_seconds = max_clip_seconds
        self.vad_pad_seconds = vad_pad_seconds
        self.sampling_rate = scorer.sampling_rate

    def clips(self, clips: list[PendingInput], batch_size: int) -> list[EmotionPrediction]:
        """Decoded clips, each scored whole, ``batch_size`` at a time."""
        pieces = [(pending.source, 0.0, pending.samples) for pending in clips]
        return [
            prediction
            for begin in range(0, len(pieces), batch_size)
            for prediction, _ in self._score_pieces(pieces[begin : begin + batch_size], batch_size)
        ]

    def is_silent(self, samples: np.ndarray) -> bool:
        """Whether a piece is quieter than the silence threshold: marked, never scored."""
        threshold = self.silence_threshold_db
        return threshold is not None and rms_dbfs(samples) < threshold

    def _prediction(self, probabilities, valence_arousal, *, start: float, end: float, source: str | None):
        scorer = self.scorer
        return scored_prediction(
            scorer.labels,
            scorer.regression_targets,
            probabilities,
            valence_arousal,
            start=start,
            end=end,
            source=source,
        )

    def _summary_prediction(
        self,
        summary: RunningMean,
        *,
        start: float,
        end: float,
        source: str,
        timeline: list[EmotionPrediction],
    ) -> EmotionPrediction:
        if summary.weight == 0:
            result = silent_prediction(start=start, end=end, source=source)
        else:
            result = self._prediction(*summary.mean(), start=start, end=end, source=source)
        result.timeline = timeline
        return result

    def _score_pieces(
        self, pieces: list[Piece], batch_size: int
    ) -> list[tuple[EmotionPrediction, tuple[np.ndarray, np.ndarray] | None]]:
        """Pieces → predictions with the scores behind them: silent pieces are marked (scores ``None``) and
        never reach the model, the rest are scored together."""
        rate = self.sampling_rate
        audible = [i for i, (_, _, samples) in enumerate(pieces) if not self.is_silent(samples)]
        scored: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        if audible:
            probabilities, valence_arousal = self.scorer.score(
                [pieces[i][2] for i in audible], batch_size=batch_size
            )
            scored = {i: (probabilities[row], valence_arousal[row]) for row, i in enumerate(audible)}
        results = []
        for i, (source, start, samples) in enumerate(pieces):
            end = start + samples.shape[0] / rate
            if i in scored:
                results.append((self._prediction(*scored[i], start=start, end=end, source=source), scored[i]))
            else:
                results.append((silent_prediction(start=start, end=end, source=source), None))
        return results

    def _windows(
        self, blocks: Iterable[np.ndarray], *, source: str, window: float, hop: float, batch_size: int
    ) -> tuple[list[EmotionPrediction], RunningMean, int]:
        """Sliding windows over a stream: their predictions, their running mean, the stream's length."""
        rate = self.sampling_rate
        timeline: list[EmotionPrediction] = []
        summary = RunningMean()
        batch: list[tuple[str, float, np.ndarray]] = []
        total_samples = 0

        def flush() -> None:
            for prediction, scores in self._score_pieces(batch, batch_size):
                if scores is not None:
                    summary.add(*scores)
                timeline.append(prediction)
            batch.clear()

        window_samples, hop_samples = round(window * rate), max(1, round(hop * rate))
        for start, samples in sliding_windows(blocks, window_samples=window_samples, hop_samples=hop_samples):
            total_samples = max(total_samples, start + samples.shape[0])
            batch.append((source, start / rate, samples))
            if len(batch) >= batch_size:
                flush()
        if batch:
            flush()
        if not timeline:
            raise AudioDecodeError(source, "empty", "contains no audio samples")
        return timeline, summary, total_samples

    def windows(
        self, blocks: Iterable[np.ndarray], *, source: str, window: float, hop: float, batch_size: int
    ) -> EmotionPrediction:
        """A recording in sliding windows: each window's prediction as the timeline, their mean as the answer."""
        timeline, summary, total_samples = self._windows(
            blocks, source=source, window=window, hop=hop, batch_size=batch_size
        )
        logger.debug("%s: %d windows, %d silent", source, len(timeline), sum(w.silent for w in timeline))
        end = total_samples / self.sampling_rate
        return self._summary_prediction(summary, start=0.0, end=end, source=source, timeline=timeline)

    def segments(
        self, pending: PendingInput, *, window: float, hop: float, batch_size: int
    ) -> EmotionPrediction:
        """Speech segments from Silero VAD, each scored whole (in windows when longer than the model
        takes); the summary is their mean weighted by duration. Silence is neither scored nor listed."""
        from hf_emotion.data.vad import VadSettings, cut_spans, speech_spans

        rate, source = self.sampling_rate, pending.source
        settings = VadSettings(pad_ms=round(1000 * self.vad_pad_seconds))
        spans, total_samples = speech_spans(pending.open_blocks(), rate, settings)
        if total_samples == 0:
            raise AudioDecodeError(source, "empty", "contains no audio samples")
        if not spans and total_samples <= self.max_clip_seconds * rate:
            spans = self._energy_fallback(pending)
        timeline: list[EmotionPrediction] = []
        summary = RunningMean()
        batch: list[tuple[str, float, np.ndarray]] = []

        def add(prediction: EmotionPrediction, scores: tuple[np.ndarray, np.ndarray] | None) -> None:
            if scores is not None:
                summary.add(*scores, weight=prediction.duration)
            timeline.append(prediction)

        def flush() -> None:
            for prediction, scores in self._score_pieces(batch, batch_size):
                add(prediction, scores)
            batch.clear()

        for start, samples in cut_spans(pending.open_blocks(), spans):
            begin, end = start / rate, (start + samples.shape[0]) / rate
            if samples.shape[0] <= self.max_clip_seconds * rate:
                batch.append((source, begin, samples))
                if len(batch) >= batch_size:
                    flush()
                continue
            _, windows, _ = self._windows(
                array_blocks(samples, rate), source=source, window=window, hop=hop, batch_size=batch_size
            )
            if windows.weight:
                add(self._prediction(*windows.mean(), start=begin, end=end, source=source), windows.mean())
            else:
                add(silent_prediction(start=begin, end=end, source=source), None)
        flush()
        timeline.sort(key=lambda prediction: prediction.start)
        logger.debug("%s: %d speech segments", source, len(timeline))
        return self._summary_prediction(
            summary, start=0.0, end=total_samples / rate, source=source, timeline=timeline
        )

    def _energy_fallback(self, pending: PendingInput) -> list[tuple[int, int]]:
        """The speech of a short recording in which Silero found none, by level, padded as VAD segments are.

        Silero misses some loud, high-arousal speech: it found nothing in 12 of 240 RAVDESS test clips (actor
        06's strong-intensity ones, benchmarks/results/segment_agreement.md), and --segment vad then gave no
        label. A short recording that is not silent, whose loud part stands out from a quieter rest (at least
        ``FALLBACK_QUIET_SHARE`` of it 30 dB below the peak, as around an utterance; steady noise has no such
        part), is scored on its loud part instead. A long one stays unscored (it is read as a stream)."""
        from hf_emotion.data.framing import energy_speech_span

        rate = self.sampling_rate
        samples = np.concatenate([np.asarray(block, dtype=np.float32) for block in pending.open_blocks()])
        if self.is_silent(samples):
            return []
        start, end = energy_speech_span(samples, rate)
        if end <= start or (end - start) > (1 - FALLBACK_QUIET_SHARE) * len(samples):
            return []
        pad = round(self.vad_pad_seconds * rate)
        logger.warning(
            "%s: Silero VAD found no speech; scoring the part within 30 dB of its peak", pending.source
        )
        return [(max(0, start - pad), min(len(samples), end + pad))]


__all__ = ["Piece", "PieceScoring"]
