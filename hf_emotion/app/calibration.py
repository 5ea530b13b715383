"""Calibrate with your voice: the demo's speaker-adaptive mode, one visitor at a time.

A visitor gives several short clips of their own voice. They are encoded once
(:meth:`~hf_emotion.serving.speaker_adaptive.SpeakerAdaptiveRecognizer.encode`) and their pooled features kept
as a :class:`VoiceCalibration`, which the demo holds in that visitor's ``gr.State``, never in a global
shared between visitors. Each recording recognized afterwards is encoded alone and standardised
together with the calibration clips (:meth:`~hf_emotion.serving.speaker_adaptive.SpeakerAdaptiveRecognizer.against`):
it gets the probabilities ``EmotionRecognizer(calibration_clips + [recording], speaker=...)`` gives it.

Gradio is not imported here (the demo turns ``ValueError`` into its messages), nor is the
speaker-adaptive module before a model with a head asks for it (it needs scikit-learn).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..data.audio import audio_info, decode_audio
from ..serving.recognizer import EmotionPrediction
from ..serving.windows import rms_dbfs

if TYPE_CHECKING:
    from ..serving.speaker_adaptive import SpeakerAdaptiveRecognizer

#: Longest calibration clip, and longest recording judged against one: what the speaker-adaptive encoder
#: pass keeps of a clip (``speaker_adaptive.DEFAULT_MAX_SECONDS``; a test keeps the two equal).
MAX_CLIP_SECONDS = 20.0
#: Shortest calibration clip: a word or two is not a voice's usual self.
MIN_CLIP_SECONDS = 0.5
#: Most calibration clips at once: each costs one encoder pass on the shared server.
MAX_CLIPS = 30
#: What results judged against a voice say about themselves (``EmotionPrediction.mode``).
MODE = "speaker_adaptive"

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
    from ..serving.speaker_adaptive import RECOMMENDED_CLIPS_PER_SPEAKER

    names = ", ".join(calibration.names[:6]) + (", ..." if calibration.clips > 6 else "")
    line = f"Calibrated to your voice with {calibration.clips} clips ({names}): Recognize emotion now judges recordings against them."
    if calibration.clips < RECOMMENDED_CLIPS_PER_SPEAKER:
        line += f" With fewer than {RECOMMENDED_CLIPS_PER_SPEAKER} clips, expect noisy answers."
    return line


def unavailable_line(reason: ValueError) -> str:
    """The calibration section's one line for a model that cannot be calibrated (no head, ONNX, ensemble)."""
    return f"Calibration is off for this model: {str(reason).rstrip('.')}."


def calibrate_voice(
    adaptive: SpeakerAdaptiveRecognizer,
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
    from ..serving.speaker_adaptive import MIN_CLIPS_PER_SPEAKER, RECOMMENDED_CLIPS_PER_SPEAKER

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
    features = adaptive.encode(signals, sampling_rate=rate)
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
    adaptive: SpeakerAdaptiveRecognizer,
    calibration: VoiceCalibration,
    path: str | os.PathLike,
    *,
    silence_threshold_db: float | None,
) -> EmotionPrediction:
    """A recording judged against the visitor's calibration clips (``mode="speaker_adaptive"``, no
    valence/arousal). Only the recording is encoded; a silent one is marked, not judged."""
    rate = adaptive.sampling_rate
    samples = decode_audio(path, rate, max_duration=None, allow_silence=True)
    end = samples.shape[0] / rate
    if silence_threshold_db is not None and rms_dbfs(samples) < silence_threshold_db:
        return EmotionPrediction(
            {}, None, None, None, None, silent=True, end=end, source=os.fspath(path), mode=MODE
        )
    [judged] = adaptive.against([samples], calibration.features, sampling_rate=rate)
    return EmotionPrediction(
        judged.probabilities,
        judged.label,
        judged.confidence,
        valence=None,
        arousal=None,
        end=end,
        source=os.fspath(path),
        mode=judged.mode,
    )
