"""How an :class:`~hf_emotion.serving.recognizer.EmotionRecognizer` cuts and batches audio: its options,
and the checks that refuse an unusable option or input rate with a message naming it (the rate's check is
the one the transformers pipeline saved with every model runs)."""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Literal

from hf_emotion.data.audio import AudioDecodeError
from hf_emotion.model import pipeline_emotion

DEFAULT_WINDOW_SECONDS = 3.0
DEFAULT_HOP_SECONDS = 1.5
DEFAULT_BATCH_SIZE = 16
#: Whisper's encoder sees at most 30 s; longer input is scored in windows.
DEFAULT_MAX_CLIP_SECONDS = 30.0
#: RMS level (dBFS) under which a clip or window counts as silence: far below speech (-30 to
#: -15 dBFS) and room noise, so only near-digital silence is skipped.
DEFAULT_SILENCE_THRESHOLD_DB = -60.0
SEGMENT_MODES = ("window", "vad")


@dataclass
class RecognizerOptions:
    """How an :class:`EmotionRecognizer` cuts and batches audio (the model decides nothing here).

    Attributes:
        window: window length in seconds for long recordings.
        hop: hop between window starts in seconds (``0 < hop <= window``).
        batch_size: clips, windows or segments per forward pass.
        max_clip_seconds: inputs longer than this are scored in windows, not whole (lowered
            to what the model takes: 30 s for Whisper).
        silence_threshold_db: RMS level (dBFS) below which audio is marked silent; ``None``
            to score everything.
        segment: ``"window"``: clips whole, long recordings in sliding windows; ``"vad"``:
            the speech segments Silero VAD finds, each scored whole.
        vad_pad_seconds: with ``segment="vad"``, seconds of the recording kept before and after each
            speech segment; ``None``: the margin the model was trained with (its config's
            ``speech_margin_seconds``), or none for a model trained on its corpus's own framing.
    """

    window: float = DEFAULT_WINDOW_SECONDS
    hop: float = DEFAULT_HOP_SECONDS
    batch_size: int = DEFAULT_BATCH_SIZE
    max_clip_seconds: float = DEFAULT_MAX_CLIP_SECONDS
    silence_threshold_db: float | None = DEFAULT_SILENCE_THRESHOLD_DB
    segment: Literal["window", "vad"] = "window"
    vad_pad_seconds: float | None = None

    def __post_init__(self) -> None:
        if self.vad_pad_seconds is not None and not 0 <= self.vad_pad_seconds <= 5:
            raise ValueError(f"vad_pad_seconds={self.vad_pad_seconds!r} must lie in [0, 5] seconds")
        check_window(self.window, self.hop)
        check_batch_size(self.batch_size)
        check_segment(self.segment)


def check_window(window: Any, hop: Any) -> tuple[float, float]:
    """``(window, hop)`` as floats, or a ``ValueError`` naming the argument that is wrong."""
    for name, value in (("window", window), ("hop", hop)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
            raise ValueError(f"{name}={value!r} must be a positive number of seconds")
    if hop > window:
        raise ValueError(f"hop={hop} must not exceed window={window} (need 0 < hop <= window, in seconds)")
    return float(window), float(hop)


def check_batch_size(batch_size: Any) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r} must be a whole number of at least 1")
    return int(batch_size)


def check_segment(segment: Any) -> str:
    if segment not in SEGMENT_MODES:
        raise ValueError(f"segment={segment!r} must be one of {', '.join(SEGMENT_MODES)}")
    return segment


def check_sampling_rate(sampling_rate: Any, source: str) -> int:
    """The rate of an array input as an int, or an :class:`AudioDecodeError` for that input.

    The rule is the pipeline's (saved beside every model), so both refuse the same rates in the same words.
    """
    try:
        return pipeline_emotion.check_sampling_rate(sampling_rate)
    except ValueError as error:
        raise AudioDecodeError(source, "corrupt", str(error)) from None


#: An input shorter than this many windows is scored whole, as one window, even when a window is asked for.
SHORT_CLIP_WINDOWS = 2


@dataclass(frozen=True)
class CallSettings:
    """How one call cuts its inputs: the call's arguments, else the recognizer's options, checked."""

    window: float
    hop: float
    batch_size: int
    segment: str
    force_windows: bool

    @property
    def cut(self) -> dict[str, Any]:
        return {"window": self.window, "hop": self.hop, "batch_size": self.batch_size}
