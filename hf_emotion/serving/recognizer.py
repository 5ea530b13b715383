"""Emotion recognition for any audio: ``EmotionRecognizer.from_pretrained(...)(audio)`` → named results.

One recognizer, over a scorer (:mod:`hf_emotion.serving.scorers`: a torch model, an ONNX export, or the
mean of several). The recognizer decides what the scorer sees:

* short clips (up to ``max_clip_seconds``, 30 s by default: Whisper's limit) are scored whole,
  many at a time, sorted by length so that little padding is needed;
* longer recordings, or any input when a ``window`` is given, are read block by block with
  :func:`hf_emotion.data.audio.stream_audio_blocks` and scored in sliding windows, with a per-window
  ``timeline`` and a whole-recording summary (the mean of the windows);
* with ``segment="vad"``, the speech segments that Silero VAD finds (:mod:`hf_emotion.data.vad`)
  are scored one by one, each as a whole (in windows only when longer than the model takes),
  and the summary weighs each segment by its duration: silence is never scored or labelled;
* with ``speaker=...`` (a model folder with a speaker-adaptive head, :mod:`hf_emotion.serving.speaker_adaptive`),
  each clip is decoded the same way, the scorer gives its pooled features
  (:mod:`hf_emotion.serving.adaptive_scoring`), and the head judges it against the other clips of its
  speaker; the results say ``mode="speaker_adaptive"`` (clip by clip: ``mode="clip"``).

How pieces are scored is :mod:`hf_emotion.serving.pieces`'s; how inputs are read, :mod:`hf_emotion.serving.inputs`'s.
Memory is bounded by ``batch_size`` windows or segments whatever the recording's length.
Windows and clips quieter than ``silence_threshold_db`` are marked ``silent=True`` with no
label and never reach the model.
"""

from __future__ import annotations

import dataclasses
import logging
import numbers
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch

from hf_emotion.data.audio import AudioDecodeError
from hf_emotion.model.files import SPEAKER_ADAPTIVE_HEAD_FILE
from hf_emotion.serving.inputs import AudioLike, PendingInput, decode_whole, read_input, recording_blocks
from hf_emotion.serving.loading import load_scorer
from hf_emotion.serving.mean_scorer import MeanScorer
from hf_emotion.serving.options import (
    DEFAULT_HOP_SECONDS,
    DEFAULT_WINDOW_SECONDS,
    SHORT_CLIP_WINDOWS,
    CallSettings,
    RecognizerOptions,
    check_batch_size,
    check_segment,
    check_window,
)
from hf_emotion.serving.pieces import PieceScoring
from hf_emotion.serving.predictions import (
    EmotionPrediction,
    adaptive_prediction,
)
from hf_emotion.serving.scorers import Scorer, TorchScorer
from hf_emotion.serving.windows import rms_dbfs, sliding_windows, window_count

if TYPE_CHECKING:  # loaded only in speaker-adaptive mode (the head's module brings scikit-learn's metrics)
    from hf_emotion.serving.adaptive_scoring import SpeakerAdaptiveScoring
    from hf_emotion.serving.speaker_adaptive import SpeakerAdaptiveHead

logger = logging.getLogger(__name__)

#: The speaker-adaptive head's file in a model folder.
HEAD_FILE = SPEAKER_ADAPTIVE_HEAD_FILE


class EmotionRecognizer:
    """Emotion probabilities, label and valence/arousal for audio, from a trained model.

    Args:
        scorer: what runs the model (:class:`hf_emotion.serving.scorers.TorchScorer`,
            :class:`~hf_emotion.serving.scorers.OnnxScorer` or :class:`~hf_emotion.serving.scorers.MeanScorer`).
        options: how audio is cut and batched; see :class:`RecognizerOptions`.
        **overrides: any :class:`RecognizerOptions` field, replacing ``options``'.

    Example:
        >>> import numpy as np, tempfile
        >>> from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor
        >>> from hf_emotion.model.configuration_emotion import EmotionConfig
        >>> from hf_emotion.model.modeling_emotion import EmotionModel
        >>> encoder = Wav2Vec2Config(hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        ...     intermediate_size=16, conv_dim=(8, 8), conv_stride=(5, 4), conv_kernel=(10, 8),
        ...     num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
        ...     feat_extract_norm="layer", do_stable_layer_norm=True)
        >>> model = EmotionModel(EmotionConfig(encoder_config=encoder, id2label={0: "calm", 1: "angry"}))
        >>> folder = tempfile.mkdtemp()
        >>> model.save_pretrained(folder)
        >>> _ = Wav2Vec2FeatureExtractor(return_attention_mask=True).save_pretrained(folder)
        >>> recognizer = EmotionRecognizer.from_pretrained(folder)
        >>> tone = 0.3 * np.sin(np.arange(16000) / 16000 * 2 * np.pi * 220)
        >>> prediction = recognizer(tone, sampling_rate=16000)
        >>> sorted(prediction.probabilities), prediction.label in ("calm", "angry")
        (['angry', 'calm'], True)
        >>> recognizer(np.zeros(16000), sampling_rate=16000).silent
        True
    """

    def __init__(
        self,
        scorer: Scorer,
        options: RecognizerOptions | None = None,
        *,
        adaptive_head: SpeakerAdaptiveHead | None = None,
        **overrides: Any,
    ) -> None:
        self.scorer = scorer
        # The speaker-adaptive head saved beside the model (``speaker=`` in calls), if it has one.
        self.adaptive_head = adaptive_head
        self.options = dataclasses.replace(options or RecognizerOptions(), **overrides)
        self.max_clip_seconds = min(self.options.max_clip_seconds, scorer.max_clip_seconds)
        self.check_window(self.options.window, self.options.hop)
        if self.options.segment == "vad":
            _require_vad()
        pad = self.options.vad_pad_seconds
        self.pieces = PieceScoring(
            scorer,
            silence_threshold_db=self.options.silence_threshold_db,
            max_clip_seconds=self.max_clip_seconds,
            vad_pad_seconds=(getattr(scorer, "speech_margin_seconds", None) or 0.0) if pad is None else pad,
        )

    @classmethod
    def from_pretrained(
        cls,
        path_or_hub_id: str | os.PathLike | Sequence[str | os.PathLike],
        *,
        device: str | torch.device = "cpu",
        dtype: str | torch.dtype | None = None,
        **kwargs: Any,
    ) -> EmotionRecognizer:
        """Load a trained model folder, a Hub repository, or a folder written by ``hf-emotion export``.

        Args:
            path_or_hub_id: a folder written by ``save_pretrained`` (with the feature
                extractor saved next to the model), a Hub model id, or an exported ONNX
                folder (run by onnxruntime); a list of several gives the recognizer over
                their equal-weight mean.
            device: where torch models run (ONNX exports run on the CPU).
            dtype: run torch models in this dtype, e.g. ``"bfloat16"``; default: as saved.
            **kwargs: any :class:`RecognizerOptions` field (``window``, ``hop``, ``batch_size``,
                ``max_clip_seconds``, ``silence_threshold_db``, ``segment``, ``vad_pad_seconds``); the rest go to
                transformers' ``from_pretrained`` (``revision``, ``token``, ``cache_dir``, ...).
        """
        from hf_emotion.serving.loading import load_adaptive_head

        option_names = {f.name for f in dataclasses.fields(RecognizerOptions)}
        options = RecognizerOptions(**{k: v for k, v in kwargs.items() if k in option_names})
        hub_kwargs = {k: v for k, v in kwargs.items() if k not in option_names}
        names = [path_or_hub_id] if isinstance(path_or_hub_id, (str, os.PathLike)) else list(path_or_hub_id)
        scorers = [load_scorer(name, device=device, dtype=dtype, **hub_kwargs) for name in names]
        if len(scorers) > 1:
            return cls(MeanScorer(scorers), options)
        return cls(scorers[0], options, adaptive_head=load_adaptive_head(names[0]))

    @classmethod
    def from_model(
        cls,
        model: Any,
        feature_extractor: Any,
        *,
        device: str | torch.device = "cpu",
        dtype: str | torch.dtype | None = None,
        **options: Any,
    ) -> EmotionRecognizer:
        """A recognizer over an ``EmotionModel`` already in memory (e.g. just trained); ``adaptive_head=``
        (a :class:`SpeakerAdaptiveHead`) allows ``speaker=`` in calls."""
        return cls(TorchScorer(model, feature_extractor, device=device, dtype=dtype), **options)

    # ------------------------------------------------------------------ what the scorer tells

    @property
    def labels(self) -> list[str]:
        return self.scorer.labels

    @property
    def regression_targets(self) -> list[str]:
        return self.scorer.regression_targets

    @property
    def sampling_rate(self) -> int:
        return self.scorer.sampling_rate

    @property
    def window(self) -> float:
        return self.options.window

    @property
    def hop(self) -> float:
        return self.options.hop

    @property
    def batch_size(self) -> int:
        return self.options.batch_size

    def check_window(self, window: Any, hop: Any) -> tuple[float, float]:
        """``(window, hop)`` as floats, or a ``ValueError`` saying why this model cannot use them."""
        window, hop = check_window(window, hop)
        if window > self.max_clip_seconds:
            raise ValueError(
                f"window={window} s is longer than this model takes ({self.max_clip_seconds:g} s); "
                "use a shorter window"
            )
        return window, hop

    def score(
        self, signals: Sequence[np.ndarray], *, batch_size: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The scorer's answer for mono signals at ``self.sampling_rate`` (no silence check, no windows).

        Returns:
            ``(probabilities (N, num_labels), regression outputs (N, R))`` in input order,
            the regression columns in ``regression_targets`` order.
        """
        batch_size = self.batch_size if batch_size is None else check_batch_size(batch_size)
        return self.scorer.score(signals, batch_size=batch_size)

    def embed(
        self, audio: AudioLike | Sequence[AudioLike], *, frames: bool = False, sampling_rate=None
    ) -> Any:
        """The vector the heads read (``classifier_proj_size`` wide), for your own classifiers or clustering.

        Each input is scored whole (as long as the model takes), silence included. Returns a ``(P,)`` array for
        one input, ``(N, P)`` for a list; with ``frames=True`` a pair ``(that, frame vectors)``, the frames a
        ``(F, P)`` array per input (a list of them for a list). See :mod:`hf_emotion.serving.embeddings`.
        """
        from hf_emotion.serving.embeddings import embed_inputs

        return embed_inputs(
            self.scorer, audio, frames=frames, sampling_rate=sampling_rate, batch_size=self.batch_size
        )

    def speaker_adaptive(self) -> SpeakerAdaptiveScoring:
        """This model's scorer and speaker-adaptive head together (what ``speaker=`` scores with), or a
        ``ValueError`` saying what is missing (a head, or one model rather than an ensemble)."""
        from hf_emotion.serving.adaptive_scoring import SpeakerAdaptiveScoring

        return SpeakerAdaptiveScoring(self.scorer, self.adaptive_head, batch_size=self.batch_size)

    # ------------------------------------------------------------------ public call

    def __call__(
        self,
        audio: AudioLike | Sequence[AudioLike],
        *,
        sampling_rate: int | None = None,
        window: float | None = None,
        hop: float | None = None,
        batch_size: int | None = None,
        segment: Literal["window", "vad"] | None = None,
        errors: Literal["raise", "return"] = "raise",
        speaker: str | Sequence[str] | None = None,
    ) -> Any:
        """Predict emotions for one input or a list of inputs.

        Args:
            audio: a file path, the bytes of an audio file, an array or tensor of samples (``(frames,)``,
                ``(frames, channels)`` or ``(channels, frames)``, at most 16 channels, any sample format; give
                ``sampling_rate``), a dict ``{"array": ..., "sampling_rate": ...}`` as ``datasets`` yields, or a
                list of these (a list is always a batch, never samples).
            sampling_rate: the rate of array or tensor inputs.
            window: score every input in windows of this many seconds (with a timeline), except inputs
                shorter than two windows, scored whole as one window (no timeline); by default only inputs
                longer than ``max_clip_seconds`` are, with the recognizer's ``window``. With
                ``segment="vad"``: the window for segments longer than the model takes.
            hop: seconds between window starts (default: the recognizer's, or ``window / 2`` with ``window``).
            batch_size: clips, windows or segments per forward pass.
            segment: ``"window"`` or ``"vad"`` (default: the recognizer's ``segment``).
            errors: ``"raise"`` the first :class:`AudioDecodeError`, or ``"return"`` it in place of that
                input's prediction so the rest go on.
            speaker: speaker-adaptive mode (a model with a speaker-adaptive head): one speaker id for all
                inputs, or one per input; every input (whole, cut to 20 s) is judged against the other inputs
                of its speaker (at least 4 each, 10 or more recommended), ``mode="speaker_adaptive"``, no
                valence/arousal; an input quieter than ``silence_threshold_db`` is marked ``silent``, as clip by
                clip, and left out of its speaker's. ``window`` and ``segment`` do not apply.

        Returns:
            An :class:`EmotionPrediction` for a single input, a list of them for a list (with
            :class:`AudioDecodeError` items where ``errors="return"``).

        Raises:
            AudioDecodeError: an input cannot be read (with ``errors="raise"``).
            ValueError: ``window``, ``hop``, ``batch_size`` or ``segment`` is not usable; with ``speaker``:
                the model has no speaker-adaptive head, or a speaker has too few inputs.
        """
        single = not isinstance(audio, (list, tuple))
        items = [audio] if single else list(audio)
        if speaker is not None:
            if window is not None or segment == "vad":
                raise ValueError(
                    "speaker= scores every input whole; window= and segment='vad' do not apply (for one "
                    "speaker's long recording use speaker_adaptive_recording)"
                )
            results = self._predict_speaker_adaptive(
                items, speaker, sampling_rate=sampling_rate, errors=errors
            )
        else:
            settings = self._call_settings(window, hop, batch_size, segment)
            results = self._predict(items, settings, sampling_rate=sampling_rate, errors=errors)
        return results[0] if single else results

    def speaker_adaptive_recording(
        self,
        audio: AudioLike,
        *,
        window: float = 3.0,
        hop: float = 1.5,
        sampling_rate: int | None = None,
        speaker: str = "speaker",
    ) -> EmotionPrediction:
        """One speaker's long recording in speaker-adaptive mode: each window judged against the recording's
        other speech windows (see :meth:`speaker_adaptive_windows`). Returns the recording's mean over those
        windows with the windows as its ``timeline``, all with ``mode="speaker_adaptive"``."""
        timeline = self.speaker_adaptive_windows(
            audio, window=window, hop=hop, sampling_rate=sampling_rate, speaker=speaker
        )
        labels = list(timeline[0].probabilities)
        mean = np.mean([[w.probabilities[label] for label in labels] for w in timeline], axis=0)
        result = adaptive_prediction(labels, mean, start=0.0, end=timeline[-1].end, source=timeline[0].source)
        result.timeline = timeline
        return result

    def speaker_adaptive_windows(
        self,
        audio: AudioLike,
        *,
        window: float = 3.0,
        hop: float = 1.5,
        sampling_rate: int | None = None,
        speaker: str = "speaker",
        silence_threshold_db: float | None | Literal["options"] = "options",
    ) -> list[EmotionPrediction]:
        """One speaker's long recording in sliding windows, each judged against the recording's other speech
        windows (``mode="speaker_adaptive"``).

        The file is read block by block. Windows quieter than ``silence_threshold_db`` (default: the
        recognizer's) are left out, since silence would count as the speaker's usual self, and so is a last
        window shorter than half ``window`` (its audio is in the window before it when ``hop <= window / 2``).

        Raises:
            ValueError: no head, or fewer than 4 speech windows.
        """
        adaptive = self.speaker_adaptive()
        rate = self.sampling_rate
        if silence_threshold_db == "options":
            silence_threshold_db = self.options.silence_threshold_db
        source, blocks = recording_blocks(audio, rate, sampling_rate)
        window_samples = round(window * rate)
        spans, probabilities = adaptive.judge_windows(
            sliding_windows(blocks, window_samples=window_samples, hop_samples=round(hop * rate)),
            source=source,
            window_samples=window_samples,
            silence_threshold_db=silence_threshold_db,
            speaker=speaker,
        )
        return [
            adaptive_prediction(adaptive.labels, row, start=start / rate, end=end / rate, source=source)
            for row, (start, end) in zip(probabilities, spans, strict=True)
        ]

    # ------------------------------------------------------------------ one call, step by step

    def _call_settings(self, window: Any, hop: Any, batch_size: Any, segment: Any) -> CallSettings:
        """The call's cut: a ``window`` given scores every input in windows (``hop`` default: half of it)."""
        force_windows = window is not None
        if window is None:
            window = self.window
            hop = self.hop if hop is None else hop
        elif hop is None:
            hop = window / 2 if isinstance(window, numbers.Real) else window
        window, hop = self.check_window(window, hop)
        batch_size = self.batch_size if batch_size is None else check_batch_size(batch_size)
        segment = check_segment(self.options.segment if segment is None else segment)
        if segment == "vad":
            _require_vad()
        return CallSettings(window, hop, batch_size, segment, force_windows)

    def _predict(
        self, items: list[AudioLike], settings: CallSettings, *, sampling_rate: Any, errors: str
    ) -> list[EmotionPrediction | AudioDecodeError]:
        """Long inputs and VAD segments are scored as they are read, one at a time; short clips all together."""
        results: list[EmotionPrediction | AudioDecodeError | None] = [None] * len(items)
        clips: list[PendingInput] = []
        for index, item in enumerate(items):
            try:
                pending = read_input(
                    index,
                    item,
                    self.sampling_rate,
                    sampling_rate=sampling_rate,
                    stream=settings.force_windows or settings.segment == "vad",
                    max_clip_seconds=self.max_clip_seconds,
                    block_seconds=max(settings.hop, 1.0),
                    whole_below_seconds=0.0
                    if settings.segment == "vad"
                    else SHORT_CLIP_WINDOWS * settings.window,
                )
                if settings.segment == "vad":
                    results[index] = self.pieces.segments(pending, **settings.cut)
                elif pending.open_blocks is not None:  # long: stream it now, one recording at a time
                    results[index] = self.pieces.windows(
                        pending.open_blocks(), source=pending.source, **settings.cut
                    )
                else:
                    clips.append(pending)
            except AudioDecodeError as error:
                results[index] = _raise_or_keep(error, errors)
        for pending, prediction in zip(clips, self.pieces.clips(clips, settings.batch_size), strict=True):
            if settings.force_windows:  # a clip under two windows asked for in windows: it is its one window
                prediction.timeline = [dataclasses.replace(prediction)]
            results[pending.index] = prediction
        return results

    def _predict_speaker_adaptive(
        self, items: list[AudioLike], speaker: str | Sequence[str], *, sampling_rate: Any, errors: str
    ) -> list[EmotionPrediction | AudioDecodeError]:
        """Decode every input whole, then judge them all at once, each against the others of its speaker."""
        from hf_emotion.serving.speaker_adaptive import check_speakers

        adaptive = self.speaker_adaptive()
        speakers = [str(speaker)] * len(items) if isinstance(speaker, str) else [str(s) for s in speaker]
        if len(speakers) != len(items):
            raise ValueError(f"speaker= has {len(speakers)} ids for {len(items)} inputs; give one per input")
        check_speakers(speakers)  # before anything is read
        results: list[EmotionPrediction | AudioDecodeError | None] = [None] * len(items)
        decoded: list[tuple[int, str, np.ndarray]] = []
        for index, item in enumerate(items):
            try:  # silence is decoded, not refused: it is marked as clip by clip marks it
                decoded.append(
                    (index, *decode_whole(item, self.sampling_rate, sampling_rate, allow_silence=True))
                )
            except AudioDecodeError as error:
                results[index] = _raise_or_keep(error, errors)
        if decoded:
            judged = adaptive.judge_clips(
                [(source, samples) for _, source, samples in decoded],
                [speakers[index] for index, _, _ in decoded],
                is_silent=self.pieces.is_silent,
            )
            for (index, _, _), prediction in zip(decoded, judged, strict=True):
                results[index] = prediction
        return results


def _raise_or_keep(error: AudioDecodeError, errors: str) -> AudioDecodeError:
    """``errors="raise"``: raise it; ``"return"``: log it and keep it in place of that input's result."""
    if errors == "raise":
        raise error
    logger.warning("skipping %s", error)
    return error


def _require_vad() -> None:
    # silero-vad is an optional extra: its module is imported only when segments are asked for.
    from hf_emotion.data.vad import require_vad

    require_vad()


def split_model_names(value: str | None) -> list[str]:
    """``"dirA, dirB"`` → ``["dirA", "dirB"]``: several models named in one string (``$HF_EMOTION_MODEL``)."""
    return [name.strip() for name in (value or "").split(",") if name.strip()]


def EnsembleRecognizer(  # noqa: N802 - kept under its old name for callers of the former class
    members: Sequence[EmotionRecognizer], *, weights: Sequence[float] | None = None, **options: Any
) -> EmotionRecognizer:
    """A recognizer over the weighted mean of loaded recognizers' models (see :class:`MeanScorer`).

    ``EmotionRecognizer.from_pretrained([dirA, dirB])`` is the usual way to get one.
    """
    return EmotionRecognizer(MeanScorer([member.scorer for member in members], weights=weights), **options)


__all__ = [
    "DEFAULT_HOP_SECONDS",
    "DEFAULT_WINDOW_SECONDS",
    "EmotionPrediction",
    "EmotionRecognizer",
    "EnsembleRecognizer",
    "RecognizerOptions",
    "rms_dbfs",
    "sliding_windows",
    "split_model_names",
    "window_count",
]
