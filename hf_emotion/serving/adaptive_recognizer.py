"""``SpeakerAdaptiveRecognizer``: the speaker-adaptive calls of an :class:`EmotionRecognizer` under their own name.

Kept for its callers (it is public); it holds a recognizer and answers with
:class:`~hf_emotion.serving.speaker_adaptive.SpeakerAdaptivePrediction`, which names the speaker. Decoding,
cutting and scoring are the recognizer's, so a torch model and its ONNX export are served alike.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from hf_emotion.data.audio import decode_audio
from hf_emotion.serving.adaptive_scoring import check_reference
from hf_emotion.serving.predictions import EmotionPrediction
from hf_emotion.serving.recognizer import EmotionRecognizer
from hf_emotion.serving.speaker_adaptive import SpeakerAdaptiveHead, SpeakerAdaptivePrediction


class SpeakerAdaptiveRecognizer:
    """Emotions for several clips of the same speaker(s), or one speaker's long recording, each clip
    standardised on its speaker's own clips (a model folder with a speaker-adaptive head).

    Args:
        recognizer: a recognizer over one model with a head (a ``ValueError`` says what is missing).

    Example:
        ``SpeakerAdaptiveRecognizer.from_pretrained("my-model")(["a.wav", "b.wav", "c.wav", "d.wav"])`` gives
        one :class:`SpeakerAdaptivePrediction` per file, all standardised as one speaker's clips.
    """

    def __init__(self, recognizer: EmotionRecognizer) -> None:
        self.recognizer = recognizer
        self.scoring = recognizer.speaker_adaptive()

    @classmethod
    def from_pretrained(
        cls, folder: str | os.PathLike, *, device: str = "cpu", batch_size: int = 8, **kwargs: Any
    ) -> SpeakerAdaptiveRecognizer:
        """A model folder (or its ONNX export) with a speaker-adaptive head, written by ``hf-emotion adapt``
        or the recipe; ``kwargs`` go to :meth:`EmotionRecognizer.from_pretrained`."""
        SpeakerAdaptiveHead.load(folder)  # first: the error that says what to do
        return cls(EmotionRecognizer.from_pretrained(folder, device=device, batch_size=batch_size, **kwargs))

    @property
    def head(self) -> SpeakerAdaptiveHead:
        return self.scoring.head

    @property
    def sampling_rate(self) -> int:
        return self.scoring.sampling_rate

    def __call__(
        self, clips: Sequence[Any], *, speakers: Sequence[str] | None = None, sampling_rate: int | None = None
    ) -> list[SpeakerAdaptivePrediction]:
        """Predict every clip (paths, bytes or arrays at ``sampling_rate``), standardised on the clips of its
        speaker (``speakers``: one per clip; ``None``: all one speaker). Too few clips of a speaker are refused
        before anything is read."""
        speakers = ["speaker"] * len(clips) if speakers is None else [str(s) for s in speakers]
        if len(speakers) != len(clips):
            raise ValueError(f"{len(speakers)} speakers given for {len(clips)} clips; give one per clip")
        judged = self.recognizer(list(clips), speaker=speakers, sampling_rate=sampling_rate)
        return [_named(prediction, speaker) for prediction, speaker in zip(judged, speakers, strict=True)]

    def encode(self, clips: Sequence[Any], *, sampling_rate: int | None = None) -> np.ndarray:
        """``(N, L, H)`` pooled encoder features of clips (paths, bytes or arrays at ``sampling_rate``), decoded
        and cut as :meth:`__call__` does: encode one speaker's reference clips once, then judge each new clip
        against them with :meth:`against`."""
        return self.scoring.encode(self._decode(clips, sampling_rate))

    def against(
        self,
        clips: Sequence[Any],
        reference: np.ndarray,
        *,
        sampling_rate: int | None = None,
        speaker: str = "speaker",
    ) -> list[SpeakerAdaptivePrediction]:
        """Predict new clips of one speaker, each standardised together with that speaker's ``reference``
        features (from :meth:`encode`; at least ``MIN_CLIPS_PER_SPEAKER - 1`` clips): only the new clips are
        encoded, and each gets what :meth:`__call__` gives it as the last of the reference clips and itself."""
        check_reference(reference)  # before anything is read
        signals = self._decode(clips, sampling_rate)
        probabilities = self.scoring.probabilities_against(signals, reference)
        return [
            SpeakerAdaptivePrediction(
                probabilities={name: float(p) for name, p in zip(self.head.labels, row, strict=True)},
                label=self.head.labels[int(row.argmax())],
                confidence=float(row.max()),
                speaker=speaker,
                source=os.fspath(clip) if isinstance(clip, (str, os.PathLike)) else "<array>",
                start=0.0,
                end=round(len(signal) / self.sampling_rate, 4),
            )
            for clip, signal, row in zip(clips, signals, probabilities, strict=True)
        ]

    def recording(
        self,
        source: Any,
        *,
        window: float = 3.0,
        hop: float = 1.5,
        sampling_rate: int | None = None,
        silence_threshold_db: float | None = -60.0,
        speaker: str = "speaker",
    ) -> list[SpeakerAdaptivePrediction]:
        """One speaker's long recording in sliding windows, each standardised on the recording's other windows
        (see :meth:`EmotionRecognizer.speaker_adaptive_windows`)."""
        windows = self.recognizer.speaker_adaptive_windows(
            source,
            window=window,
            hop=hop,
            sampling_rate=sampling_rate,
            speaker=speaker,
            silence_threshold_db=silence_threshold_db,
        )
        return [_named(prediction, speaker) for prediction in windows]

    def _decode(self, clips: Sequence[Any], sampling_rate: int | None) -> list[np.ndarray]:
        rate = self.sampling_rate
        return [decode_audio(c, rate, orig_sampling_rate=sampling_rate, max_duration=None) for c in clips]


def _named(prediction: EmotionPrediction, speaker: str) -> SpeakerAdaptivePrediction:
    return SpeakerAdaptivePrediction(
        probabilities=prediction.probabilities,
        label=prediction.label,
        confidence=prediction.confidence,
        speaker=speaker,
        source=prediction.source,
        start=prediction.start,
        end=prediction.end,
    )


__all__ = ["SpeakerAdaptiveRecognizer"]
