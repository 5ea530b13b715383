"""Emotion recognition for any audio: ``EmotionRecognizer.from_pretrained(...)(audio)`` → named results.

One recognizer, over a scorer (:mod:`hf_emotion.serving.scorers`: a torch model, an ONNX export, or the
mean of several). The recognizer decides what the scorer sees:

* short clips (up to ``max_clip_seconds``, 30 s by default: Whisper's limit) are scored whole,
  many at a time, sorted by length so that little padding is needed;
* longer recordings, or any input when a ``window`` is given, are read block by block with
  :func:`hf_emotion.data.audio.stream_audio_blocks` and scored in sliding windows, with a per-window
  ``timeline`` and a whole-recording summary (the mean of the windows);
* with ``segment="vad"``, the speech segments that Silero VAD finds (:mod:`hf_emotion.serving.segments`)
  are scored one by one, each as a whole (in windows only when longer than the model takes),
  and the summary weighs each segment by its duration: silence is never scored or labelled;
* with ``speaker=...`` (a model folder with a speaker-adaptive head, :mod:`hf_emotion.serving.speaker_adaptive`),
  each clip is judged against the other clips of its speaker, and the results say
  ``mode="speaker_adaptive"`` (clip by clip: ``mode="clip"``).

Memory is bounded by ``batch_size`` windows or segments whatever the recording's length.
Windows and clips quieter than ``silence_threshold_db`` are marked ``silent=True`` with no
label and never reach the model.
"""

from __future__ import annotations

import dataclasses
import logging
import numbers
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch

from hf_emotion.data.audio import AudioDecodeError, audio_info, decode_audio, stream_audio_blocks
from hf_emotion.model.files import SPEAKER_ADAPTIVE_HEAD_FILE
from hf_emotion.serving.options import (
    DEFAULT_HOP_SECONDS,
    DEFAULT_WINDOW_SECONDS,
    RecognizerOptions,
    check_batch_size,
    check_sampling_rate,
    check_segment,
    check_window,
)
from hf_emotion.serving.scorers import MeanScorer, Scorer, TorchScorer, load_scorer
from hf_emotion.serving.windows import array_blocks, rms_dbfs, sliding_windows, window_count

if TYPE_CHECKING:  # loaded only in speaker-adaptive mode: it needs scikit-learn, which serving does not
    from hf_emotion.serving.speaker_adaptive import (
        SpeakerAdaptiveHead,
        SpeakerAdaptivePrediction,
        SpeakerAdaptiveRecognizer,
    )

logger = logging.getLogger(__name__)

#: The speaker-adaptive head's file in a model folder.
HEAD_FILE = SPEAKER_ADAPTIVE_HEAD_FILE

AudioLike = str | os.PathLike | bytes | np.ndarray | torch.Tensor | dict


@dataclass
class EmotionPrediction:
    """What the model heard in a clip, a window, a speech segment or a whole recording.

    Attributes:
        probabilities: every emotion's probability, in the model's label order; empty when silent.
        label: the most probable emotion, or ``None`` for silence.
        confidence: the probability of ``label`` (``None`` for silence).
        valence: predicted valence in [-1, 1] (``None`` for silence or a model without it).
        arousal: predicted arousal in [-1, 1] (``None`` for silence or a model without it).
        silent: the audio is below the silence threshold (for a recording: every window is,
            or VAD found no speech).
        start: start time in seconds within the recording.
        end: end time in seconds within the recording.
        source: the file name, ``"<bytes>"`` or ``"<array>"``.
        timeline: per-window (or, with ``segment="vad"``, per-speech-segment) predictions when
            the audio was cut, else ``None``.
        mode: ``"clip"``: judged on this audio alone; ``"speaker_adaptive"``: judged against the
            other clips of the same speaker (it depends on them, and misleads when they all share
            one emotion).
    """

    probabilities: dict[str, float]
    label: str | None
    confidence: float | None
    valence: float | None
    arousal: float | None
    silent: bool = False
    start: float = 0.0
    end: float = 0.0
    source: str | None = None
    timeline: list[EmotionPrediction] | None = field(default=None, repr=False)
    mode: str = "clip"

    @property
    def duration(self) -> float:
        """Length of the scored audio in seconds."""
        return self.end - self.start

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (timeline entries as dicts too, without ``source``)."""
        result: dict[str, Any] = {
            "source": self.source,
            "label": self.label,
            "confidence": self.confidence,
            "valence": self.valence,
            "arousal": self.arousal,
            "silent": self.silent,
            "start": round(self.start, 4),
            "end": round(self.end, 4),
            "probabilities": dict(self.probabilities),
            "mode": self.mode,
        }
        if self.timeline is not None:
            timeline = []
            for item in self.timeline:
                entry = item.to_dict()
                entry.pop("source")
                entry.pop("timeline", None)
                timeline.append(entry)
            result["timeline"] = timeline
        return result


class _Summary:
    """Weighted running mean of predictions, so a recording's summary needs no stored audio."""

    def __init__(self) -> None:
        self.weight = 0.0
        self.probabilities: np.ndarray | None = None
        self.valence_arousal: np.ndarray | None = None

    def add(self, probabilities: np.ndarray, valence_arousal: np.ndarray, weight: float = 1.0) -> None:
        if self.probabilities is None:
            self.probabilities = np.zeros_like(probabilities, dtype=np.float64)
            self.valence_arousal = np.zeros_like(valence_arousal, dtype=np.float64)
        self.probabilities += weight * probabilities
        self.valence_arousal += weight * valence_arousal
        self.weight += weight

    def mean(self) -> tuple[np.ndarray, np.ndarray]:
        return self.probabilities / self.weight, self.valence_arousal / self.weight


@dataclass
class _Pending:
    """One input on its way through a call: decoded samples, or a way to stream it (twice for VAD)."""

    index: int
    source: str
    samples: np.ndarray | None = None
    open_blocks: Callable[[], Iterable[np.ndarray]] | None = None


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
        # The speaker-adaptive head saved beside a torch model (``speaker=`` in calls), if it has one.
        self.adaptive_head = adaptive_head
        self.options = dataclasses.replace(options or RecognizerOptions(), **overrides)
        self.max_clip_seconds = min(self.options.max_clip_seconds, scorer.max_clip_seconds)
        self.check_window(self.options.window, self.options.hop)
        if self.options.segment == "vad":
            _require_vad()

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
                ``max_clip_seconds``, ``silence_threshold_db``, ``segment``); the rest go to
                transformers' ``from_pretrained`` (``revision``, ``token``, ``cache_dir``, ...).
        """
        option_names = {f.name for f in dataclasses.fields(RecognizerOptions)}
        options = RecognizerOptions(**{k: v for k, v in kwargs.items() if k in option_names})
        hub_kwargs = {k: v for k, v in kwargs.items() if k not in option_names}
        names = [path_or_hub_id] if isinstance(path_or_hub_id, (str, os.PathLike)) else list(path_or_hub_id)
        scorers = [load_scorer(name, device=device, dtype=dtype, **hub_kwargs) for name in names]
        if len(scorers) > 1:
            return cls(MeanScorer(scorers), options)
        head_file = os.path.join(os.fspath(names[0]), HEAD_FILE)
        head = None
        if os.path.isfile(head_file):
            from hf_emotion.serving.speaker_adaptive import SpeakerAdaptiveHead

            head = SpeakerAdaptiveHead.load(names[0])
        return cls(scorers[0], options, adaptive_head=head)

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

    def speaker_adaptive(self) -> SpeakerAdaptiveRecognizer:
        """The speaker-adaptive recognizer over this model and its head, or a ``ValueError`` saying what is missing."""
        if not isinstance(self.scorer, TorchScorer):
            kind = "an ensemble of models" if isinstance(self.scorer, MeanScorer) else "an ONNX export"
            raise ValueError(
                f"speaker-adaptive mode needs a torch model folder with {HEAD_FILE}, not {kind}: load that "
                "one model folder (the one hf-emotion adapt wrote the head into)"
            )
        if self.adaptive_head is None:
            raise ValueError(
                f"this model has no {HEAD_FILE}, which speaker-adaptive mode needs: add one with hf-emotion "
                "adapt --model MODEL_DIR --dataset ... --data_dir ... --split_file MODEL_DIR/splits.json "
                "(or train with --speaker_adaptive_head)"
            )
        from hf_emotion.serving.speaker_adaptive import SpeakerAdaptiveRecognizer

        return SpeakerAdaptiveRecognizer(
            self.scorer.model,
            self.scorer.feature_extractor,
            self.adaptive_head,
            device=self.scorer.device,
            batch_size=self.batch_size,
        )

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
            audio: a file path, the bytes of an audio file, an array or tensor of samples
                (``(frames,)``, ``(frames, channels)`` or ``(channels, frames)`` with at most
                16 channels, any sample format; give ``sampling_rate``), a dict
                ``{"array": ..., "sampling_rate": ...}`` as ``datasets`` yields, or a list of
                these (a list is always a batch, never samples).
            sampling_rate: the rate of array or tensor inputs.
            window: score every input in windows of this many seconds (with a timeline);
                by default only inputs longer than ``max_clip_seconds`` are, with the
                recognizer's ``window``. With ``segment="vad"``: the window for segments
                longer than the model takes.
            hop: seconds between window starts (default: the recognizer's ``hop``, or
                ``window / 2`` when ``window`` is given).
            batch_size: clips, windows or segments per forward pass.
            segment: ``"window"`` or ``"vad"`` (default: the recognizer's ``segment``).
            errors: ``"raise"`` the first :class:`AudioDecodeError`, or ``"return"`` it in
                place of that input's prediction so the rest go on.
            speaker: speaker-adaptive mode (a model folder with a speaker-adaptive head): one
                speaker id for all inputs, or one per input; every input (whole, cut to 20 s)
                is judged against the other inputs of its speaker (at least 4 each, 10 or more
                recommended) and its result says ``mode="speaker_adaptive"``, with no
                valence/arousal. ``window`` and ``segment`` do not apply.

        Returns:
            An :class:`EmotionPrediction` for a single input, a list of them for a list (with
            :class:`AudioDecodeError` items where ``errors="return"``).

        Raises:
            AudioDecodeError: an input cannot be read (with ``errors="raise"``).
            ValueError: ``window``, ``hop``, ``batch_size`` or ``segment`` is not usable; with
                ``speaker``: the model has no speaker-adaptive head, or a speaker has too few inputs.
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
            return results[0] if single else results
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
        cut = dict(window=window, hop=hop, batch_size=batch_size)

        results: list[EmotionPrediction | AudioDecodeError | None] = [None] * len(items)
        clips: list[_Pending] = []
        for index, item in enumerate(items):
            try:
                pending = self._load(
                    index,
                    item,
                    sampling_rate=sampling_rate,
                    stream=force_windows or segment == "vad",
                    hop=hop,
                )
                if segment == "vad":
                    results[index] = self._predict_segments(pending, **cut)
                elif pending.open_blocks is not None:  # long: stream it now, one recording at a time
                    results[index] = self._predict_windows(
                        pending.open_blocks(), source=pending.source, **cut
                    )
                else:
                    clips.append(pending)
            except AudioDecodeError as error:
                if errors == "raise":
                    raise
                logger.warning("skipping %s", error)
                results[index] = error
        for pending, prediction in zip(clips, self._predict_clips(clips, batch_size), strict=True):
            results[pending.index] = prediction
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
        other speech windows (see :meth:`SpeakerAdaptiveRecognizer.recording`). Returns the recording's mean
        over those windows with the windows as its ``timeline``, all with ``mode="speaker_adaptive"``."""
        if isinstance(audio, dict):
            audio, sampling_rate = audio["array"], audio.get("sampling_rate", sampling_rate)
        windows = self.speaker_adaptive().recording(
            audio,
            window=window,
            hop=hop,
            sampling_rate=sampling_rate,
            silence_threshold_db=self.options.silence_threshold_db,
            speaker=speaker,
        )
        timeline = [_adaptive_prediction(w) for w in windows]
        labels = list(windows[0].probabilities)
        mean = np.mean([[w.probabilities[label] for label in labels] for w in windows], axis=0)
        from hf_emotion.serving.speaker_adaptive import SpeakerAdaptivePrediction

        summary = SpeakerAdaptivePrediction(
            {label: float(p) for label, p in zip(labels, mean, strict=True)},
            labels[int(mean.argmax())],
            float(mean.max()),
            speaker,
            windows[0].source,
            0.0,
            windows[-1].end,
        )
        result = _adaptive_prediction(summary)
        result.timeline = timeline
        return result

    def _predict_speaker_adaptive(
        self, items: list[AudioLike], speaker: str | Sequence[str], *, sampling_rate: Any, errors: str
    ) -> list[EmotionPrediction | AudioDecodeError]:
        """Decode every input whole, then score them all at once, grouped by speaker, through the head."""
        adaptive = self.speaker_adaptive()
        speakers = [str(speaker)] * len(items) if isinstance(speaker, str) else [str(s) for s in speaker]
        if len(speakers) != len(items):
            raise ValueError(f"speaker= has {len(speakers)} ids for {len(items)} inputs; give one per input")
        from hf_emotion.serving.speaker_adaptive import check_speakers

        check_speakers(speakers)  # before anything is read
        results: list[EmotionPrediction | AudioDecodeError | None] = [None] * len(items)
        kept: list[tuple[int, str, np.ndarray]] = []
        for index, item in enumerate(items):
            try:
                kept.append((index, *self._decode_whole(item, sampling_rate)))
            except AudioDecodeError as error:
                if errors == "raise":
                    raise
                logger.warning("skipping %s", error)
                results[index] = error
        if kept:
            predictions = adaptive(
                [samples for _, _, samples in kept],
                speakers=[speakers[index] for index, _, _ in kept],
                sampling_rate=self.sampling_rate,
            )
            for (index, source, _), prediction in zip(kept, predictions, strict=True):
                prediction.source = source
                results[index] = _adaptive_prediction(prediction)
        return results

    def _decode_whole(self, item: AudioLike, sampling_rate: Any) -> tuple[str, np.ndarray]:
        if isinstance(item, dict):
            if "array" not in item:
                raise AudioDecodeError(
                    "<dict>", "corrupt", "a dict input needs 'array' and 'sampling_rate' keys"
                )
            sampling_rate, item = item.get("sampling_rate", sampling_rate), item["array"]
        if isinstance(item, (str, os.PathLike)):
            return os.fspath(item), decode_audio(item, self.sampling_rate, max_duration=None)
        if isinstance(item, (bytes, bytearray)):
            return "<bytes>", decode_audio(bytes(item), self.sampling_rate, max_duration=None)
        if sampling_rate is None:
            raise AudioDecodeError("<array>", "corrupt", "an array input needs sampling_rate=")
        rate = check_sampling_rate(sampling_rate, "<array>")
        return "<array>", decode_audio(item, self.sampling_rate, orig_sampling_rate=rate, max_duration=None)

    # ------------------------------------------------------------------ loading

    def _load(self, index: int, item: AudioLike, *, sampling_rate: Any, stream: bool, hop: float) -> _Pending:
        """Decode a short input now; a long file becomes a block stream, a long array blocks of itself."""
        rate = self.sampling_rate
        block_seconds = max(hop, 1.0)
        if isinstance(item, dict):
            if "array" not in item:
                raise AudioDecodeError(
                    "<dict>", "corrupt", "a dict input needs 'array' and 'sampling_rate' keys"
                )
            sampling_rate = item.get("sampling_rate", sampling_rate)
            item = item["array"]
        if isinstance(item, (str, os.PathLike)):
            name = os.fspath(item)
            info = audio_info(name)
            if stream or info.duration > self.max_clip_seconds:
                return _Pending(
                    index,
                    name,
                    open_blocks=lambda: stream_audio_blocks(name, rate, block_seconds=block_seconds),
                )
            return _Pending(
                index, name, samples=decode_audio(name, rate, max_duration=None, allow_silence=True)
            )
        if isinstance(item, (bytes, bytearray)):
            source = "<bytes>"
            samples = decode_audio(bytes(item), rate, max_duration=None, allow_silence=True)
        else:
            source = "<array>"
            if sampling_rate is None:
                raise AudioDecodeError(source, "corrupt", "an array input needs sampling_rate=")
            samples = decode_audio(
                item,
                rate,
                orig_sampling_rate=check_sampling_rate(sampling_rate, source),
                max_duration=None,
                allow_silence=True,
            )
        if stream or samples.shape[0] > self.max_clip_seconds * rate:
            return _Pending(index, source, open_blocks=lambda: array_blocks(samples, block_seconds * rate))
        return _Pending(index, source, samples=samples)

    # ------------------------------------------------------------------ scoring

    def _is_silent(self, samples: np.ndarray) -> bool:
        threshold = self.options.silence_threshold_db
        return threshold is not None and rms_dbfs(samples) < threshold

    def _prediction(
        self,
        probabilities: np.ndarray,
        valence_arousal: np.ndarray,
        *,
        start: float,
        end: float,
        source: str | None,
    ) -> EmotionPrediction:
        best = int(np.argmax(probabilities))
        targets = self.regression_targets
        values = {name: float(valence_arousal[i]) for i, name in enumerate(targets)}
        return EmotionPrediction(
            probabilities={label: float(p) for label, p in zip(self.labels, probabilities, strict=True)},
            label=self.labels[best],
            confidence=float(probabilities[best]),
            valence=values.get("valence"),
            arousal=values.get("arousal"),
            start=start,
            end=end,
            source=source,
        )

    def _summary_prediction(
        self, summary: _Summary, *, start: float, end: float, source: str, timeline: list[EmotionPrediction]
    ) -> EmotionPrediction:
        if summary.weight == 0:
            result = _silent(start=start, end=end, source=source)
        else:
            result = self._prediction(*summary.mean(), start=start, end=end, source=source)
        result.timeline = timeline
        return result

    def _score_pieces(
        self, pieces: list[tuple[str, float, np.ndarray]], batch_size: int
    ) -> list[tuple[EmotionPrediction, tuple[np.ndarray, np.ndarray] | None]]:
        """``(source, start seconds, samples)`` pieces → predictions with the scores behind them:
        silent pieces are marked (scores ``None``) and never reach the model, the rest are scored together."""
        rate = self.sampling_rate
        audible = [i for i, (_, _, samples) in enumerate(pieces) if not self._is_silent(samples)]
        scored: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        if audible:
            probabilities, valence_arousal = self.score(
                [pieces[i][2] for i in audible], batch_size=batch_size
            )
            scored = {i: (probabilities[row], valence_arousal[row]) for row, i in enumerate(audible)}
        results = []
        for i, (source, start, samples) in enumerate(pieces):
            end = start + samples.shape[0] / rate
            if i in scored:
                results.append((self._prediction(*scored[i], start=start, end=end, source=source), scored[i]))
            else:
                results.append((_silent(start=start, end=end, source=source), None))
        return results

    def _predict_clips(self, clips: list[_Pending], batch_size: int) -> list[EmotionPrediction]:
        pieces = [(pending.source, 0.0, pending.samples) for pending in clips]
        return [
            prediction
            for begin in range(0, len(pieces), batch_size)
            for prediction, _ in self._score_pieces(pieces[begin : begin + batch_size], batch_size)
        ]

    def _windows(
        self, blocks: Iterable[np.ndarray], *, source: str, window: float, hop: float, batch_size: int
    ) -> tuple[list[EmotionPrediction], _Summary, int]:
        """Sliding windows over a stream: their predictions, their running mean, the stream's length."""
        rate = self.sampling_rate
        timeline: list[EmotionPrediction] = []
        summary = _Summary()
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

    def _predict_windows(
        self, blocks: Iterable[np.ndarray], *, source: str, window: float, hop: float, batch_size: int
    ) -> EmotionPrediction:
        timeline, summary, total_samples = self._windows(
            blocks, source=source, window=window, hop=hop, batch_size=batch_size
        )
        logger.debug("%s: %d windows, %d silent", source, len(timeline), sum(w.silent for w in timeline))
        end = total_samples / self.sampling_rate
        return self._summary_prediction(summary, start=0.0, end=end, source=source, timeline=timeline)

    def _predict_segments(
        self, pending: _Pending, *, window: float, hop: float, batch_size: int
    ) -> EmotionPrediction:
        """Speech segments from Silero VAD, each scored whole (in windows when longer than the model
        takes); the summary is their mean weighted by duration. Silence is neither scored nor listed."""
        from hf_emotion.serving.segments import VadSettings, cut_spans, speech_spans

        rate, source = self.sampling_rate, pending.source
        spans, total_samples = speech_spans(pending.open_blocks(), rate, VadSettings())
        if total_samples == 0:
            raise AudioDecodeError(source, "empty", "contains no audio samples")
        timeline: list[EmotionPrediction] = []
        summary = _Summary()
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
                add(_silent(start=begin, end=end, source=source), None)
        flush()
        timeline.sort(key=lambda prediction: prediction.start)
        logger.debug("%s: %d speech segments", source, len(timeline))
        return self._summary_prediction(
            summary, start=0.0, end=total_samples / rate, source=source, timeline=timeline
        )


def _require_vad() -> None:
    # silero-vad is an optional extra: its module is imported only when segments are asked for.
    from hf_emotion.serving.segments import require_vad

    require_vad()


def _silent(*, start: float, end: float, source: str | None) -> EmotionPrediction:
    return EmotionPrediction({}, None, None, None, None, silent=True, start=start, end=end, source=source)


def _adaptive_prediction(prediction: SpeakerAdaptivePrediction) -> EmotionPrediction:
    return EmotionPrediction(
        probabilities=dict(prediction.probabilities),
        label=prediction.label,
        confidence=prediction.confidence,
        valence=None,
        arousal=None,
        start=prediction.start,
        end=prediction.end,
        source=prediction.source,
        mode=prediction.mode,
    )


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
