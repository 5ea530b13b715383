"""Emotion recognition for any audio: ``EmotionRecognizer.from_pretrained(...)(audio)`` → named results.

Short clips (up to ``max_clip_seconds``, 30 s by default: Whisper's limit) are scored whole, many at
a time: a batch is sorted by length so that little padding is needed, and padded with an
attention mask where the backbone takes one. Longer recordings, or any input when a ``window``
is given, are read block by block with :func:`hf_emotion.audio.stream_audio_blocks` and scored
in sliding windows, so memory is bounded by ``batch_size`` windows whatever the file's length;
the result carries a per-window ``timeline`` and a whole-recording summary (the mean of the
windows' probabilities and valence/arousal). Windows quieter than ``silence_threshold_db`` are
marked ``silent=True`` with no label and never reach the model.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch

from hf_emotion.audio import (
    DEFAULT_SAMPLING_RATE,
    AudioDecodeError,
    audio_info,
    decode_audio,
    stream_audio_blocks,
)
from hf_emotion.batches import model_inputs

logger = logging.getLogger(__name__)

DEFAULT_WINDOW_SECONDS = 3.0
DEFAULT_HOP_SECONDS = 1.5
DEFAULT_BATCH_SIZE = 16
#: Whisper's encoder sees at most 30 s; longer input is scored in windows.
DEFAULT_MAX_CLIP_SECONDS = 30.0
#: RMS level (dBFS) under which a clip or window counts as silence: far below speech (-30 to
#: -15 dBFS) and room noise, so only near-digital silence is skipped.
DEFAULT_SILENCE_THRESHOLD_DB = -60.0
# Windows shorter than this (a file's tail) are zero-padded up to it: the convolutional
# front ends need a minimum number of samples.
MIN_MODEL_SECONDS = 0.1

AudioLike = str | os.PathLike | bytes | np.ndarray | torch.Tensor | dict


@dataclass
class EmotionPrediction:
    """What the model heard in a clip, a window, or a whole recording.

    Attributes:
        probabilities: every emotion's probability, in the model's label order; empty when silent.
        label: the most probable emotion, or ``None`` for silence.
        confidence: the probability of ``label`` (``None`` for silence).
        valence: predicted valence in [-1, 1] (``None`` for silence or a model without it).
        arousal: predicted arousal in [-1, 1] (``None`` for silence or a model without it).
        silent: the audio is below the silence threshold (for a recording: every window is).
        start: start time in seconds within the recording.
        end: end time in seconds within the recording.
        source: the file name, ``"<bytes>"`` or ``"<array>"``.
        timeline: per-window predictions when the audio was scored in windows, else ``None``.
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


def rms_dbfs(samples: np.ndarray) -> float:
    """Root-mean-square level of a signal in dB relative to full scale (-inf for all zeros)."""
    if samples.size == 0:
        return -math.inf
    power = float(np.mean(np.square(samples, dtype=np.float64)))
    return 10.0 * math.log10(power) if power > 0 else -math.inf


def window_count(duration: float, window: float, hop: float) -> int:
    """How many windows :meth:`EmotionRecognizer.__call__` scores for ``duration`` seconds.

    Windows start every ``hop`` seconds; the last one ends at the end of the recording and
    may be shorter than ``window``. A recording up to one window long is one window.

    Example:
        >>> window_count(600.0, 3.0, 1.5), window_count(10.0, 3.0, 1.5), window_count(2.0, 3.0, 1.5)
        (399, 6, 1)
    """
    if duration <= window:
        return 1
    return math.ceil((duration - window) / hop - 1e-9) + 1


def sliding_windows(
    blocks: Iterable[np.ndarray], *, window_samples: int, hop_samples: int
) -> Iterator[tuple[int, np.ndarray]]:
    """Cut consecutive blocks of a signal into windows: ``(start sample, window)`` pairs.

    Holds at most one window plus one block in memory. Windows start every ``hop_samples``;
    when samples remain after the last full window, one shorter window ends the signal.

    Example:
        >>> blocks = [np.arange(4.0), np.arange(4.0, 10.0)]
        >>> [(start, len(w)) for start, w in sliding_windows(blocks, window_samples=4, hop_samples=3)]
        [(0, 4), (3, 4), (6, 4)]
    """
    if not 0 < hop_samples <= window_samples:
        raise ValueError(f"need 0 < hop <= window, got hop={hop_samples} window={window_samples} samples")
    buffer = np.zeros(0, dtype=np.float32)
    start = total = last_end = 0
    emitted = False
    for block in blocks:
        buffer = np.concatenate([buffer, np.asarray(block, dtype=np.float32)])
        total += len(block)
        while buffer.shape[0] >= window_samples:
            yield start, buffer[:window_samples].copy()
            emitted, last_end = True, start + window_samples
            buffer = buffer[hop_samples:]
            start += hop_samples
    if buffer.shape[0] and (not emitted or last_end < total):
        yield start, buffer.copy()


class _Summary:
    """Running mean of window predictions, so a recording's summary needs no stored audio."""

    def __init__(self) -> None:
        self.count = 0
        self.probabilities: np.ndarray | None = None
        self.valence_arousal: np.ndarray | None = None

    def add(self, probabilities: np.ndarray, valence_arousal: np.ndarray) -> None:
        if self.probabilities is None:
            self.probabilities = np.zeros_like(probabilities, dtype=np.float64)
            self.valence_arousal = np.zeros_like(valence_arousal, dtype=np.float64)
        self.probabilities += probabilities
        self.valence_arousal += valence_arousal
        self.count += 1


@dataclass
class _Pending:
    """One input on its way through a call: decoded samples or a block stream."""

    index: int
    source: str
    samples: np.ndarray | None = None
    blocks: Iterable[np.ndarray] | None = None


class EmotionRecognizer:
    """Emotion probabilities, label and valence/arousal for audio, from a trained ``EmotionModel``.

    Args:
        model: a trained :class:`hf_emotion.modeling_emotion.EmotionModel`.
        feature_extractor: its feature extractor (``Wav2Vec2FeatureExtractor`` or
            ``WhisperFeatureExtractor``).
        device: where the model runs (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...).
        window: window length in seconds for long recordings.
        hop: hop between window starts in seconds (``0 < hop <= window``).
        batch_size: clips or windows per forward pass.
        max_clip_seconds: inputs longer than this are scored in windows, not whole.
        silence_threshold_db: RMS level (dBFS) below which audio is marked silent; ``None``
            to score everything.
        dtype: run the model in this dtype (``"bfloat16"`` is ~2.5× faster on CPUs with
            AMX/AVX-512 BF16, probabilities within ~0.01 of float32); default: as loaded.

    Example:
        >>> import numpy as np, tempfile
        >>> from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor
        >>> from hf_emotion.configuration_emotion import EmotionConfig
        >>> from hf_emotion.modeling_emotion import EmotionModel
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
        model: Any,
        feature_extractor: Any,
        *,
        device: str | torch.device = "cpu",
        window: float = DEFAULT_WINDOW_SECONDS,
        hop: float = DEFAULT_HOP_SECONDS,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_clip_seconds: float = DEFAULT_MAX_CLIP_SECONDS,
        silence_threshold_db: float | None = DEFAULT_SILENCE_THRESHOLD_DB,
        dtype: str | torch.dtype | None = None,
    ) -> None:
        self.device = torch.device(device)
        if isinstance(dtype, str):
            if not isinstance(getattr(torch, dtype, None), torch.dtype):
                raise ValueError(f"dtype={dtype!r} is not a torch dtype; use float32, bfloat16 or float16")
            dtype = getattr(torch, dtype)
        self.model = model.to(device=self.device, dtype=dtype).eval()
        self.dtype = next(self.model.parameters()).dtype
        self.feature_extractor = feature_extractor
        self.config = model.config
        self.is_whisper = self.config.encoder_config.model_type == "whisper"
        self.sampling_rate = int(getattr(feature_extractor, "sampling_rate", None) or DEFAULT_SAMPLING_RATE)
        self.labels = [self.config.id2label[i] for i in range(self.config.num_labels)]
        targets = list(getattr(self.config, "regression_targets", ("valence", "arousal")))
        self.regression_targets = targets
        self._target_column = {
            name: targets.index(name) for name in ("valence", "arousal") if name in targets
        }
        self._num_targets = len(targets)
        # Whisper's mask is always honoured by EmotionModel; a wav2vec2-like model only takes one
        # when its extractor says so (wav2vec2-base, with group norm, must see unmasked zeros).
        self.uses_attention_mask = self.is_whisper or bool(
            getattr(feature_extractor, "return_attention_mask", False)
        )
        if self.is_whisper:
            encoder_limit = 2 * self.config.encoder_config.max_source_positions * 0.01
            max_clip_seconds = min(max_clip_seconds, encoder_limit)
        self.max_clip_seconds = max_clip_seconds
        self.window, self.hop = self.check_window(window, hop)
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.batch_size = batch_size
        self.silence_threshold_db = silence_threshold_db

    @classmethod
    def from_pretrained(
        cls,
        path_or_hub_id: str | os.PathLike | Sequence[str | os.PathLike],
        *,
        device: str | torch.device = "cpu",
        window: float = DEFAULT_WINDOW_SECONDS,
        hop: float = DEFAULT_HOP_SECONDS,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_clip_seconds: float = DEFAULT_MAX_CLIP_SECONDS,
        silence_threshold_db: float | None = DEFAULT_SILENCE_THRESHOLD_DB,
        dtype: str | torch.dtype | None = None,
        **hub_kwargs: Any,
    ) -> EmotionRecognizer:
        """Load a trained model folder or Hub repository (model + feature extractor).

        Args:
            path_or_hub_id: a folder written by ``save_pretrained`` (with the feature
                extractor saved next to the model) or a Hub model id; a list of several
                gives an :class:`EnsembleRecognizer` of them.
            device: where the model runs.
            window, hop, batch_size, max_clip_seconds, silence_threshold_db, dtype: see the class.
            **hub_kwargs: passed to both ``from_pretrained`` calls (``revision``, ``token``,
                ``cache_dir``, ``local_files_only``, ...).
        """
        from transformers import AutoFeatureExtractor

        from hf_emotion.modeling_emotion import EmotionModel

        single = isinstance(path_or_hub_id, (str, os.PathLike))
        names = [path_or_hub_id] if single else list(path_or_hub_id)
        if len(names) != 1 or issubclass(cls, EnsembleRecognizer):
            members = [
                EmotionRecognizer.from_pretrained(
                    member,
                    device=device,
                    batch_size=batch_size,
                    max_clip_seconds=max_clip_seconds,
                    silence_threshold_db=silence_threshold_db,
                    dtype=dtype,
                    **hub_kwargs,
                )
                for member in names
            ]
            return EnsembleRecognizer(
                members,
                window=window,
                hop=hop,
                batch_size=batch_size,
                silence_threshold_db=silence_threshold_db,
            )
        path_or_hub_id = names[0]
        name = os.fspath(path_or_hub_id)
        if os.path.isdir(name) and not os.path.exists(os.path.join(name, "config.json")):
            raise FileNotFoundError(
                f"{name}: no config.json; is this a model folder written by save_pretrained "
                "(e.g. the output_dir of a finished fine-tuning run)?"
            )
        model = EmotionModel.from_pretrained(name, **hub_kwargs)
        try:
            feature_extractor = AutoFeatureExtractor.from_pretrained(name, **hub_kwargs)
        except (OSError, ValueError) as error:
            raise FileNotFoundError(
                f"{name}: the model has no feature extractor saved next to it "
                f"(preprocessor_config.json); save it with feature_extractor.save_pretrained({name!r}). "
                f"({error})"
            ) from error
        logger.info(
            "loaded %s (%s backbone, labels %s)",
            name,
            model.config.encoder_config.model_type,
            list(model.config.id2label.values()),
        )
        return cls(
            model,
            feature_extractor,
            device=device,
            window=window,
            hop=hop,
            batch_size=batch_size,
            max_clip_seconds=max_clip_seconds,
            silence_threshold_db=silence_threshold_db,
            dtype=dtype,
        )

    # ------------------------------------------------------------------ public calls

    def __call__(
        self,
        audio: AudioLike | Sequence[AudioLike],
        *,
        sampling_rate: int | None = None,
        window: float | None = None,
        hop: float | None = None,
        batch_size: int | None = None,
        errors: Literal["raise", "return"] = "raise",
    ) -> Any:
        """Predict emotions for one input or a list of inputs.

        Args:
            audio: a file path, the bytes of an audio file, an array or tensor of samples
                (any channel layout and sample format; give ``sampling_rate``), a dict
                ``{"array": ..., "sampling_rate": ...}`` as ``datasets`` yields, or a list of
                these (a list is always a batch, never samples).
            sampling_rate: the rate of array or tensor inputs.
            window: score every input in windows of this many seconds (with a timeline);
                by default only inputs longer than ``max_clip_seconds`` are, with the
                recognizer's ``window``.
            hop: seconds between window starts (default: the recognizer's ``hop``, or
                ``window / 2`` when ``window`` is given).
            batch_size: clips or windows per forward pass.
            errors: ``"raise"`` the first :class:`AudioDecodeError`, or ``"return"`` it in
                place of that input's prediction so the rest go on.

        Returns:
            An :class:`EmotionPrediction` for a single input, a list of them for a list (with
            :class:`AudioDecodeError` items where ``errors="return"``).

        Raises:
            AudioDecodeError: an input cannot be read (with ``errors="raise"``).
        """
        single = not isinstance(audio, (list, tuple))
        items = [audio] if single else list(audio)
        if window is not None and hop is None:
            hop = window / 2
        force_windows = window is not None
        window, hop = self.check_window(window or self.window, hop or self.hop)
        batch_size = batch_size or self.batch_size

        results: list[EmotionPrediction | AudioDecodeError | None] = [None] * len(items)
        clips: list[_Pending] = []
        for index, item in enumerate(items):
            try:
                pending = self._load(index, item, sampling_rate=sampling_rate, windowed=force_windows)
                if pending.blocks is not None:  # long: stream it now, one recording at a time
                    results[index] = self._predict_windows(
                        pending.blocks, source=pending.source, window=window, hop=hop, batch_size=batch_size
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

    # ------------------------------------------------------------------ loading

    def check_window(self, window: float, hop: float) -> tuple[float, float]:
        """``(window, hop)`` as floats, or a ``ValueError`` saying why this model cannot use them."""
        if not window > 0 or not 0 < hop <= window:
            raise ValueError(
                f"need window > 0 and 0 < hop <= window (seconds), got window={window} hop={hop}"
            )
        if window > self.max_clip_seconds:
            raise ValueError(
                f"window={window} s is longer than this model takes ({self.max_clip_seconds:g} s); "
                "use a shorter window"
            )
        return float(window), float(hop)

    def _load(self, index: int, item: AudioLike, *, sampling_rate: int | None, windowed: bool) -> _Pending:
        """Decode a short input now; a long file becomes a block stream, a long array windows over itself."""
        rate = self.sampling_rate
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
            if windowed or info.duration > self.max_clip_seconds:
                block_seconds = max(self.hop, 1.0)
                return _Pending(
                    index, name, blocks=stream_audio_blocks(name, rate, block_seconds=block_seconds)
                )
            samples = decode_audio(name, rate, max_duration=None, allow_silence=True)
            return _Pending(index, name, samples=samples)
        if isinstance(item, (bytes, bytearray)):
            source = "<bytes>"
            samples = decode_audio(bytes(item), rate, max_duration=None, allow_silence=True)
        else:
            source = "<array>"
            if sampling_rate is None:
                raise AudioDecodeError(source, "corrupt", "an array input needs sampling_rate=")
            samples = decode_audio(
                item, rate, orig_sampling_rate=sampling_rate, max_duration=None, allow_silence=True
            )
        if windowed or samples.shape[0] > self.max_clip_seconds * rate:
            step = max(1, int(self.hop * rate))
            blocks = (samples[i : i + step] for i in range(0, samples.shape[0], step))
            return _Pending(index, source, blocks=blocks)
        return _Pending(index, source, samples=samples)

    # ------------------------------------------------------------------ scoring

    def _is_silent(self, samples: np.ndarray) -> bool:
        return self.silence_threshold_db is not None and rms_dbfs(samples) < self.silence_threshold_db

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
        valence = self._target_column.get("valence")
        arousal = self._target_column.get("arousal")
        return EmotionPrediction(
            probabilities={label: float(p) for label, p in zip(self.labels, probabilities, strict=True)},
            label=self.labels[best],
            confidence=float(probabilities[best]),
            valence=None if valence is None else float(valence_arousal[valence]),
            arousal=None if arousal is None else float(valence_arousal[arousal]),
            start=start,
            end=end,
            source=source,
        )

    @staticmethod
    def _silent(*, start: float, end: float, source: str | None) -> EmotionPrediction:
        return EmotionPrediction({}, None, None, None, None, silent=True, start=start, end=end, source=source)

    def _predict_clips(self, clips: list[_Pending], batch_size: int) -> list[EmotionPrediction]:
        rate = self.sampling_rate
        predictions: list[EmotionPrediction | None] = [None] * len(clips)
        audible = []
        for position, pending in enumerate(clips):
            end = pending.samples.shape[0] / rate
            if self._is_silent(pending.samples):
                predictions[position] = self._silent(start=0.0, end=end, source=pending.source)
            else:
                audible.append(position)
        if audible:
            probabilities, valence_arousal = self.score(
                [clips[p].samples for p in audible], batch_size=batch_size
            )
            for row, position in enumerate(audible):
                pending = clips[position]
                predictions[position] = self._prediction(
                    probabilities[row],
                    valence_arousal[row],
                    start=0.0,
                    end=pending.samples.shape[0] / rate,
                    source=pending.source,
                )
        return predictions

    def _predict_windows(
        self, blocks: Iterable[np.ndarray], *, source: str, window: float, hop: float, batch_size: int
    ) -> EmotionPrediction:
        rate = self.sampling_rate
        timeline: list[EmotionPrediction] = []
        summary = _Summary()
        batch: list[tuple[int, np.ndarray]] = []
        total_samples = 0

        def flush() -> None:
            audible = [(start, samples) for start, samples in batch if not self._is_silent(samples)]
            scored = iter(())
            if audible:
                probabilities, valence_arousal = self.score([s for _, s in audible], batch_size=batch_size)
                scored = iter(zip(probabilities, valence_arousal, strict=True))
            audible_starts = {start for start, _ in audible}
            for start, samples in batch:
                begin, end = start / rate, (start + samples.shape[0]) / rate
                if start in audible_starts:
                    p, va = next(scored)
                    summary.add(p, va)
                    timeline.append(self._prediction(p, va, start=begin, end=end, source=source))
                else:
                    timeline.append(self._silent(start=begin, end=end, source=source))
            batch.clear()

        window_samples, hop_samples = round(window * rate), max(1, round(hop * rate))
        for start, samples in sliding_windows(blocks, window_samples=window_samples, hop_samples=hop_samples):
            total_samples = max(total_samples, start + samples.shape[0])
            batch.append((start, samples))
            if len(batch) >= batch_size:
                flush()
        if batch:
            flush()
        if not timeline:
            raise AudioDecodeError(source, "empty", "contains no audio samples")
        end = total_samples / rate
        if summary.count == 0:
            result = self._silent(start=0.0, end=end, source=source)
        else:
            result = self._prediction(
                summary.probabilities / summary.count,
                summary.valence_arousal / summary.count,
                start=0.0,
                end=end,
                source=source,
            )
        result.timeline = timeline
        logger.debug("%s: %d windows, %d silent", source, len(timeline), len(timeline) - summary.count)
        return result

    @torch.inference_mode()
    def score(
        self, signals: Sequence[np.ndarray], *, batch_size: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Run the model on mono signals at ``self.sampling_rate``, batched by length.

        Args:
            signals: 1-D float arrays (no silence check, no windowing).
            batch_size: signals per forward pass.

        Returns:
            ``(probabilities (N, num_labels), regression outputs (N, R))`` in input order,
            the regression columns in ``config.regression_targets`` order.
        """
        batch_size = batch_size or self.batch_size
        min_samples = int(MIN_MODEL_SECONDS * self.sampling_rate)
        signals = [
            np.pad(s, (0, min_samples - s.shape[0])) if s.shape[0] < min_samples else s for s in signals
        ]
        order = sorted(range(len(signals)), key=lambda i: signals[i].shape[0])
        probabilities = np.zeros((len(signals), len(self.labels)), dtype=np.float32)
        regression = np.zeros((len(signals), self._num_targets), dtype=np.float32)
        for chunk in self._batches(order, signals, batch_size):
            probabilities[chunk], regression[chunk] = self._forward([signals[i] for i in chunk])
        return probabilities, regression

    def _batches(
        self, order: list[int], signals: Sequence[np.ndarray], batch_size: int
    ) -> Iterator[list[int]]:
        chunk: list[int] = []
        for i in order:
            # Without an attention mask, padding would change the result: batch equal lengths only.
            if chunk and (
                len(chunk) >= batch_size
                or (not self.uses_attention_mask and signals[i].shape[0] != signals[chunk[0]].shape[0])
            ):
                yield chunk
                chunk = []
            chunk.append(i)
        if chunk:
            yield chunk

    def _forward(self, signals: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        inputs = model_inputs(
            self.feature_extractor,
            signals,
            is_whisper=self.is_whisper,
            attention_mask=self.uses_attention_mask,
        )
        kwargs = {
            k: v.to(self.device, self.dtype) if k != "attention_mask" else v.to(self.device)
            for k, v in inputs.items()
        }
        output = self.model(**kwargs)
        probabilities = torch.softmax(output.logits.float(), dim=-1)
        return probabilities.cpu().numpy(), output.valence_arousal.float().cpu().numpy()


def split_model_names(value: str | None) -> list[str]:
    """``"dirA, dirB"`` → ``["dirA", "dirB"]``: several models named in one string (``$HF_EMOTION_MODEL``)."""
    return [name.strip() for name in (value or "").split(",") if name.strip()]


class EnsembleRecognizer(EmotionRecognizer):
    """The weighted mean of several recognizers' answers: probabilities and valence/arousal.

    Models trained apart err apart; averaging their probabilities is the plainest way to trade
    inference time for accuracy (on RAVDESS speech, the fine-tuned Whisper tiny.en and base
    together score higher than either; see BENCHMARKS.md). Every member must have the same
    labels in the same order, the same regression targets and the same sampling rate. Audio is
    decoded, windowed and checked for silence once, by the ensemble; each member then scores the
    same signals its own way (its own feature extractor, device and dtype).

    Args:
        members: the loaded recognizers (at least two).
        weights: one non-negative weight per member (normalised to sum 1); default: equal.
        window, hop, batch_size, silence_threshold_db: as for :class:`EmotionRecognizer`;
            ``max_clip_seconds`` is the smallest of the members'.

    ``EmotionRecognizer.from_pretrained`` (or this class's) with a list of model folders or Hub
    ids loads each with the same arguments and returns their equal-weight ensemble.

    Example::

        recognizer = EmotionRecognizer.from_pretrained(["outputs/tiny-en", "outputs/base"])
        recognizer("clip.wav").label
    """

    def __init__(
        self,
        members: Sequence[EmotionRecognizer],
        *,
        weights: Sequence[float] | None = None,
        window: float = DEFAULT_WINDOW_SECONDS,
        hop: float = DEFAULT_HOP_SECONDS,
        batch_size: int = DEFAULT_BATCH_SIZE,
        silence_threshold_db: float | None = DEFAULT_SILENCE_THRESHOLD_DB,
    ) -> None:
        members = list(members)
        if len(members) < 2:
            raise ValueError(f"an ensemble needs at least two models, got {len(members)}")
        first = members[0]
        for index, member in enumerate(members[1:], start=2):
            for what in ("labels", "regression_targets", "sampling_rate"):
                if getattr(member, what) != getattr(first, what):
                    raise ValueError(
                        f"model {index} of the ensemble has {what} {getattr(member, what)}, model 1 has "
                        f"{getattr(first, what)}: only models with the same {what} can be averaged"
                    )
        weights = np.ones(len(members)) if weights is None else np.asarray(weights, dtype=np.float64)
        if weights.shape != (len(members),) or (weights < 0).any() or not weights.sum() > 0:
            raise ValueError(
                f"weights must be {len(members)} non-negative numbers, not all 0; got {weights.tolist()}"
            )
        self.members = members
        self.weights = weights / weights.sum()
        self.device = first.device
        self.sampling_rate = first.sampling_rate
        self.labels = first.labels
        self.regression_targets = first.regression_targets
        self._target_column = dict(first._target_column)
        self._num_targets = first._num_targets
        self.max_clip_seconds = min(member.max_clip_seconds for member in members)
        self.window, self.hop = self.check_window(window, hop)
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.batch_size = batch_size
        self.silence_threshold_db = silence_threshold_db

    def score(
        self, signals: Sequence[np.ndarray], *, batch_size: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The members' :meth:`EmotionRecognizer.score`, averaged with the ensemble's weights."""
        probabilities = np.zeros((len(signals), len(self.labels)), dtype=np.float64)
        regression = np.zeros((len(signals), self._num_targets), dtype=np.float64)
        for weight, member in zip(self.weights, self.members, strict=True):
            p, r = member.score(signals, batch_size=batch_size or self.batch_size)
            probabilities += weight * p
            regression += weight * r
        return probabilities.astype(np.float32), regression.astype(np.float32)


__all__ = [
    "DEFAULT_HOP_SECONDS",
    "DEFAULT_WINDOW_SECONDS",
    "EmotionPrediction",
    "EmotionRecognizer",
    "EnsembleRecognizer",
    "rms_dbfs",
    "sliding_windows",
    "split_model_names",
    "window_count",
]
