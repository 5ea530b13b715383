"""Calibrate with your voice: the demo's speaker-adaptive mode, one visitor at a time.

A visitor gives several short clips of their own voice. They are encoded once by the recognizer's
speaker-adaptive scoring (``recognizer.speaker_adaptive()``, :meth:`~hf_emotion.serving.adaptive_scoring.
SpeakerAdaptiveScoring.encode`) and their pooled features kept as a :class:`VoiceCalibration`, which the demo
holds in that visitor's ``gr.State``, never in a global shared between visitors. Each recording recognized
afterwards is encoded alone and standardised together with the calibration clips
(:meth:`~hf_emotion.serving.adaptive_scoring.SpeakerAdaptiveScoring.probabilities_against`): it gets the
probabilities ``EmotionRecognizer(calibration_clips + [recording], speaker=...)`` gives it.

Gradio is not imported here (the demo turns ``ValueError`` into its messages).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..data.audio import audio_info, decode_audio
from ..serving.predictions import (
    SPEAKER_ADAPTIVE_MODE,
    EmotionPrediction,
    adaptive_prediction,
    silent_prediction,
)
from ..serving.speaker_adaptive import (
    DEFAULT_MAX_SECONDS,
    MIN_CLIPS_PER_SPEAKER,
    RECOMMENDED_CLIPS_PER_SPEAKER,
)
from ..serving.windows import rms_dbfs

if TYPE_CHECKING:
    from ..serving.adaptive_scoring import SpeakerAdaptiveScoring

#: Longest calibration clip, and longest recording judged against one: what the speaker-adaptive encoder
#: pass keeps of a clip.
MAX_CLIP_SECONDS = DEFAULT_MAX_SECONDS
#: Shortest calibration clip: a word or two is not a voice's usual self.
MIN_CLIP_SECONDS = 0.5
#: Most calibration clips at once: each costs one encoder pass on the shared server.
MAX_CLIPS = 30
#: What results judged against a voice say about themselves (``EmotionPrediction.mode``).
MODE = SPEAKER_ADAPTIVE_MODE

CLIP_MODE_LINE = "**Mode: clip by clip.** Each recording is judged on its own."
CALIBRATED_MODE_LINE = (
    "**Mode: calibrated to your voice** ({clips} clips). Each recording is judged against your calibration "
    "clips: how it departs from your usual voice. This misleads when the calibration clips all carry the "
    "same emotion (angry in every clip makes angry your normal). No valence/arousal in this mode."
)


@dataclass(frozen=True)
class VoiceCalibration:
    """One visitor's voice: the pooled encoder features of their calibration clips, encoded once.

    Attributes:
        features: ``(N, L, H)`` pooled hidden states of every encoder layer, one row per clip.
        names: the clips' file names, as the visitor chose them.
    """

    features: np.ndarray
    names: tuple[str, ...]

    @property
    def clips(self) -> int:
        return len(self.names)


def mode_line(calibration: VoiceCalibration | None) -> str:
    """The sentence beside the results that says which mode makes them (and, calibrated, when it misleads)."""
    return CLIP_MODE_LINE if calibration is None else CALIBRATED_MODE_LINE.format(clips=calibration.clips)


def calibrated_line(calibration: VoiceCalibration) -> str:
    """What the calibration section says once a voice is calibrated (and whether there are clips enough)."""
    names = ", ".join(calibration.names[:6]) + (", ..." if calibration.clips > 6 else "")
    line = f"Calibrated to your voice with {calibration.clips} clips ({names}): Recognize emotion now judges recordings against them."
    if calibration.clips < RECOMMENDED_CLIPS_PER_SPEAKER:
        line += f" With fewer than {RECOMMENDED_CLIPS_PER_SPEAKER} clips, expect noisy answers."
    return line


def calibrate_voice(
    adaptive: SpeakerAdaptiveScoring,
    paths: Sequence[str | os.PathLike],
    *,
    max_mb: float,
    silence_threshold_db: float | None,
) -> VoiceCalibration:
    """Check, decode and encode a visitor's calibration clips, once.

    Raises:
        ValueError: too few or too many clips, or a clip too big, too long, too short or silent (naming it).
        AudioDecodeError: a clip cannot be read (its ``path`` is the file the server holds).
    """
    if len(paths) < MIN_CLIPS_PER_SPEAKER:
        raise ValueError(
            f"{len(paths)} clips given; calibration needs at least {MIN_CLIPS_PER_SPEAKER} clips of your voice "
            f"({RECOMMENDED_CLIPS_PER_SPEAKER} or more is better), different sentences in different moods"
        )
    if len(paths) > MAX_CLIPS:
        raise ValueError(f"{len(paths)} clips given; calibration takes up to {MAX_CLIPS}")
    rate = adaptive.sampling_rate
    signals = [
        _calibration_clip(p, rate, max_mb=max_mb, silence_threshold_db=silence_threshold_db) for p in paths
    ]
    features = adaptive.encode(signals)
    return VoiceCalibration(features, tuple(Path(p).name for p in paths))


def _calibration_clip(path, rate: int, *, max_mb: float, silence_threshold_db: float | None) -> np.ndarray:
    name = Path(path).name
    size_mb = os.path.getsize(path) / 1e6
    if size_mb > max_mb:
        raise ValueError(f"{name} is {size_mb:.1f} MB; calibration clips are up to {max_mb:g} MB each")
    duration = audio_info(path).duration
    if duration > MAX_CLIP_SECONDS:
        raise ValueError(
            f"{name} is {duration:.0f} s long; calibration clips are up to {MAX_CLIP_SECONDS:g} s each "
            "(a sentence or two)"
        )
    if duration < MIN_CLIP_SECONDS:
        raise ValueError(
            f"{name} is {duration:.2f} s long; say a whole sentence (at least {MIN_CLIP_SECONDS:g} s)"
        )
    samples = decode_audio(path, rate, max_duration=None, allow_silence=True)
    if silence_threshold_db is not None and rms_dbfs(samples) < silence_threshold_db:
        raise ValueError(f"{name} is silent; record a sentence in your own voice")
    return samples


def judge_against_voice(
    adaptive: SpeakerAdaptiveScoring,
    calibration: VoiceCalibration,
    path: str | os.PathLike,
    *,
    silence_threshold_db: float | None,
) -> EmotionPrediction:
    """A recording judged against the visitor's calibration clips (``mode="speaker_adaptive"``, no
    valence/arousal). Only the recording is encoded; a silent one is marked, not judged."""
    rate = adaptive.sampling_rate
    samples = decode_audio(path, rate, max_duration=None, allow_silence=True)
    end, source = samples.shape[0] / rate, os.fspath(path)
    if silence_threshold_db is not None and rms_dbfs(samples) < silence_threshold_db:
        return silent_prediction(start=0.0, end=end, source=source, mode=MODE)
    [probabilities] = adaptive.probabilities_against([samples], calibration.features)
    return adaptive_prediction(adaptive.labels, probabilities, start=0.0, end=end, source=source)
