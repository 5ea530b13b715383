"""The transformers pipeline saved with every emotion model, under the stock task's name.

`save_pretrained` copies this file beside the weights (`configuration_emotion.py` imports it, and transformers
ships a remote-code module's relative imports with it) and the config's `custom_pipelines` names it for the
`audio-classification` task, so both

    pipeline(model=folder_or_hub_id, trust_remote_code=True)
    pipeline("audio-classification", model=folder_or_hub_id, trust_remote_code=True)

run this class instead of the stock `AudioClassificationPipeline`, which pads Whisper input to 30 s and pools over
the padding. Here each clip is scored at its own length, resampled from any rate, long input is scored in sliding
windows, and valence/arousal come with the labels: the answers of `hf_emotion.EmotionRecognizer`.

Like the model's own files it imports nothing from `hf_emotion`, so it runs wherever the model is downloaded.
"""

import io
import math
import numbers
import os

import numpy as np
import torch
from transformers import Pipeline

# A relative import, so that transformers saves and downloads rate_check.py with this file.
from .rate_check import warn_if_rate_implausible

try:  # the resampler hf_emotion uses, so that both give the same numbers
    import soxr
except ImportError:
    soxr = None
try:  # decodes WAV/FLAC/OGG paths and bytes without ffmpeg
    import soundfile
except ImportError:
    soundfile = None

#: The task this pipeline answers; `custom_pipelines` in the model's config maps it to this class.
TASK = "audio-classification"
CUSTOM_PIPELINES = {
    TASK: {
        "impl": "pipeline_emotion.EmotionAudioClassificationPipeline",
        "pt": ["AutoModelForAudioClassification"],
        "type": "audio",
    }
}
# The same defaults as hf_emotion.serving.recognizer.EmotionRecognizer.
DEFAULT_WINDOW_SECONDS = 3.0
DEFAULT_HOP_SECONDS = 1.5
DEFAULT_BATCH_SIZE = 16
DEFAULT_MAX_CLIP_SECONDS = 30.0
DEFAULT_SILENCE_THRESHOLD_DB = -60.0
MIN_MODEL_SECONDS = 0.1
#: Below this rate no speech is left (telephone speech is sampled at 8000 Hz): a smaller number is almost always
#: a rate given in kHz, which would stretch a 3-s clip over an hour of windows.
MIN_SAMPLING_RATE = 4_000
PREPROCESS_PARAMETERS = {"sampling_rate", "window", "hop", "max_clip_seconds", "silence_threshold_db"}


def rms_dbfs(samples: np.ndarray) -> float:
    """Root-mean-square level in dB relative to full scale (-inf for all zeros)."""
    power = float(np.mean(np.square(samples, dtype=np.float64))) if samples.size else 0.0
    return 10.0 * math.log10(power) if power > 0 else -math.inf


def check_sampling_rate(sampling_rate) -> int:
    """The rate of array input as an int, or a `ValueError` that says what to pass.

    hf_emotion's `EmotionRecognizer` checks rates with this function too, so both refuse the same rates in the
    same words.
    """
    if (
        isinstance(sampling_rate, bool)
        or not isinstance(sampling_rate, numbers.Real)
        or not math.isfinite(sampling_rate)
        or sampling_rate <= 0
        or sampling_rate != int(sampling_rate)
    ):
        raise ValueError(
            f"sampling_rate={sampling_rate!r} must be a positive whole number of samples per second, "
            "e.g. sampling_rate=16000"
        )
    if sampling_rate < MIN_SAMPLING_RATE:
        raise ValueError(
            f"sampling_rate={sampling_rate!r}: below {MIN_SAMPLING_RATE} Hz no speech is left; did you pass the "
            "rate in kHz? Give samples per second, e.g. sampling_rate=16000"
        )
    return int(sampling_rate)


def check_finite(samples: np.ndarray, name: str = "audio") -> np.ndarray:
    """`samples` when every one is a number, else a `ValueError`: NaN samples would pass for silence and
    infinite ones give NaN scores (hf_emotion's decoding refuses them in the same words)."""
    finite = np.isfinite(samples)
    if not finite.all():
        raise ValueError(f"{name}: contains {int((~finite).sum())} NaN or infinite samples")
    return samples


def window_starts(num_samples: int, window: int, hop: int) -> list[int]:
    """Start samples of the windows over a signal: every `hop`, and, when samples remain after the last full
    window, one shorter window that ends the signal (as `hf_emotion.serving.recognizer.sliding_windows` cuts them)."""
    if num_samples <= window:
        return [0]
    starts = list(range(0, num_samples - window + 1, hop))
    if starts[-1] + window < num_samples:
        starts.append(starts[-1] + hop)
    return starts


def to_mono_float(samples, name: str = "audio") -> np.ndarray:
    """Int or float samples, `(frames,)`, `(frames, channels)` or `(channels, frames)` → mono float32."""
    if isinstance(samples, torch.Tensor):
        samples = samples.detach().cpu().numpy()
    array = np.asarray(samples)
    if array.dtype.kind in "iu":
        info = np.iinfo(array.dtype)
        offset = 0 if array.dtype.kind == "i" else (int(info.max) + 1) // 2
        array = (array.astype(np.float64) - offset) / (int(info.max) - offset + 1)
    elif array.dtype.kind != "f":
        raise ValueError(f"{name}: unsupported sample type {array.dtype}; pass int or float samples")
    if array.ndim == 2 and array.shape[0] < array.shape[1] and array.shape[0] <= 16:
        array = array.T  # (channels, frames) → (frames, channels)
    if array.ndim == 2:
        array = array.mean(axis=1)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name}: expected a non-empty 1-D or 2-D array of samples, got shape {array.shape}")
    return array.astype(np.float32, copy=False)


def resample(samples: np.ndarray, orig_sampling_rate: int, sampling_rate: int) -> np.ndarray:
    """Resample with soxr (high quality), or torchaudio when soxr is not installed."""
    if orig_sampling_rate == sampling_rate:
        return samples
    if soxr is not None:
        return soxr.resample(samples, orig_sampling_rate, sampling_rate, quality="HQ").astype(np.float32)
    try:
        from torchaudio.functional import resample as torchaudio_resample
    except ImportError as error:
        raise ImportError(
            f"audio at {orig_sampling_rate} Hz must be resampled to {sampling_rate} Hz: pip install soxr"
        ) from error
    return torchaudio_resample(torch.from_numpy(samples), orig_sampling_rate, sampling_rate).numpy()


class EmotionAudioClassificationPipeline(Pipeline):
    """Emotion probabilities, and valence/arousal, for clips and long recordings.

    Inputs: an array or tensor of samples (at the model's rate unless `sampling_rate=` is given; int or float,
    mono or multichannel), a dict `{"array" or "raw": samples, "sampling_rate": rate}` as `datasets` yields, a
    file path or the bytes of a file (decoded with soundfile, or ffmpeg when soundfile is missing), or a list of
    these.

    Call parameters:
        top_k: how many labels to return, most probable first (default: all).
        details: return a dict: `labels`, the plain call's list (with `top_k`), plus `valence`, `arousal`,
            `label`, `confidence`, `silent`, `start`, `end`, `probabilities` (every label) and, for windowed
            input, a `timeline` of the windows (the keys of `EmotionPrediction.to_dict()` in hf_emotion).
        sampling_rate: the rate of array and tensor inputs.
        window, hop: score in windows of `window` seconds every `hop` seconds (default hop: window / 2). By
            default only input longer than `max_clip_seconds` is windowed, with 3-s windows every 1.5 s, and the
            answer is the mean over its audible windows.
        max_clip_seconds: longer input is windowed (at most 30 s for Whisper: its encoder's limit).
        silence_threshold_db: clips or windows quieter than this RMS level (dBFS) get no label (an empty list);
            `None` scores everything.
        batch_size: clips or windows per forward pass (the pipeline's `batch_size` means this here).

    Example:

    ```python
    >>> from transformers import pipeline
    >>> classifier = pipeline(model="path/or/hub-id", trust_remote_code=True)  # doctest: +SKIP
    >>> classifier("clip.wav")  # doctest: +SKIP
    [{'label': 'sad', 'score': 0.61}, {'label': 'calm', 'score': 0.22}, ...]
    >>> answer = classifier("clip.wav", details=True)  # doctest: +SKIP
    >>> answer["labels"][0], answer["valence"], answer["arousal"]  # doctest: +SKIP
    ({'label': 'sad', 'score': 0.61}, -0.41, -0.2)
    ```
    """

    _load_processor = False
    _load_image_processor = False
    _load_feature_extractor = True
    _load_tokenizer = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The base class would batch several inputs with a collator that cannot pad Whisper features of different
        # lengths; batching happens inside `_forward` instead, over one input's clips or windows.
        self._window_batch_size = self._batch_size or DEFAULT_BATCH_SIZE
        self._batch_size = None
        config = self.model.config
        self.labels = [config.id2label[i] for i in range(config.num_labels)]
        self.regression_targets = list(getattr(config, "regression_targets", ()))
        self.is_whisper = config.encoder_config.model_type == "whisper"
        # As in EmotionRecognizer: Whisper's mask is always honoured by the model; a wav2vec2-like model takes one
        # only when its extractor says so (wav2vec2-base, with group norm, must see unmasked zeros).
        self.uses_attention_mask = self.is_whisper or bool(
            getattr(self.feature_extractor, "return_attention_mask", False)
        )
        self.sampling_rate = int(self.feature_extractor.sampling_rate)
        self.encoder_limit_seconds = (
            2 * config.encoder_config.max_source_positions * 0.01 if self.is_whisper else math.inf
        )

    def __call__(self, inputs, **kwargs):
        if "batch_size" in kwargs:
            kwargs["window_batch_size"] = kwargs.pop("batch_size")
        return super().__call__(inputs, **kwargs)

    def _sanitize_parameters(self, top_k=None, details=None, window_batch_size=None, **kwargs):
        # Only what was given: the base class lays call-time parameters over construction-time ones.
        unknown = sorted(set(kwargs) - PREPROCESS_PARAMETERS)
        if unknown:
            raise TypeError(f"EmotionAudioClassificationPipeline got unexpected arguments {unknown}")
        forward = {} if window_batch_size is None else {"batch_size": window_batch_size}
        postprocess = {
            name: value for name, value in (("top_k", top_k), ("details", details)) if value is not None
        }
        return dict(kwargs), forward, postprocess

    # ------------------------------------------------------------------ decoding and windows

    def _decode(self, inputs, sampling_rate):
        """Any accepted input → mono float32 samples at the model's rate, every one a number."""
        if isinstance(inputs, dict):
            if "sampling_rate" not in inputs or not ("array" in inputs or "raw" in inputs):
                raise ValueError('a dict input needs "array" (or "raw") and "sampling_rate" keys')
            samples = inputs["array"] if "array" in inputs else inputs["raw"]
            return self._checked(
                to_mono_float(samples), check_sampling_rate(inputs["sampling_rate"]), source="<array>"
            )
        if isinstance(inputs, (str, os.PathLike)):
            with open(inputs, "rb") as handle:
                inputs = handle.read()
        if isinstance(inputs, (bytes, bytearray)):
            if soundfile is None:
                from transformers.pipelines.audio_classification import ffmpeg_read

                return self._checked(ffmpeg_read(bytes(inputs), self.sampling_rate), self.sampling_rate)
            samples, rate = soundfile.read(io.BytesIO(inputs), dtype="float32", always_2d=False)
            return self._checked(to_mono_float(samples), int(rate))
        if sampling_rate is None:
            rate, source = self.sampling_rate, "<array> (no sampling_rate given: read at the model's rate)"
        else:
            rate, source = check_sampling_rate(sampling_rate), "<array>"
        return self._checked(to_mono_float(inputs), rate, source=source)

    def _checked(self, samples, rate, source=None):
        # Checked before resampling, which would smear one bad sample over its neighbours. The rate of an array
        # (`source` names it; a file's rate is its own) is checked against the voice, as EmotionRecognizer does.
        samples = check_finite(samples)
        if source is not None:
            warn_if_rate_implausible(samples, rate, source)
        return resample(samples, rate, self.sampling_rate)

    def preprocess(
        self,
        inputs,
        sampling_rate=None,
        window=None,
        hop=None,
        max_clip_seconds=DEFAULT_MAX_CLIP_SECONDS,
        silence_threshold_db=DEFAULT_SILENCE_THRESHOLD_DB,
    ):
        """Decode, cut into windows when long (or asked), and leave silent pieces out before the model."""
        max_clip_seconds = min(max_clip_seconds, self.encoder_limit_seconds)
        force_windows = window is not None
        if window is not None and hop is None:
            hop = window / 2
        window, hop = window or DEFAULT_WINDOW_SECONDS, hop or DEFAULT_HOP_SECONDS
        if not window > 0 or not 0 < hop <= window:
            raise ValueError(
                f"need window > 0 and 0 < hop <= window (seconds), got window={window} hop={hop}"
            )
        if window > max_clip_seconds:
            raise ValueError(f"window={window} s is longer than this model takes ({max_clip_seconds:g} s)")
        samples = self._decode(inputs, sampling_rate)
        rate = self.sampling_rate
        windowed = force_windows or samples.shape[0] > max_clip_seconds * rate
        if windowed:
            window_samples, hop_samples = round(window * rate), max(1, round(hop * rate))
            pieces = [
                (start, samples[start : start + window_samples])
                for start in window_starts(samples.shape[0], window_samples, hop_samples)
            ]
        else:
            pieces = [(0, samples)]
        segments, signals = [], []
        for start, piece in pieces:
            audible = silence_threshold_db is None or rms_dbfs(piece) >= silence_threshold_db
            segments.append((start / rate, (start + piece.shape[0]) / rate, audible))
            if audible:
                signals.append(piece)
        return {"signals": signals, "segments": segments, "windowed": windowed}

    # ------------------------------------------------------------------ scoring

    def _forward(self, model_inputs, batch_size=None):
        """Score the audible pieces, shortest first in batches, each padded only to its batch's longest."""
        batch_size = batch_size or self._window_batch_size
        signals = model_inputs["signals"]
        min_samples = int(MIN_MODEL_SECONDS * self.sampling_rate)
        signals = [
            np.pad(s, (0, min_samples - s.shape[0])) if s.shape[0] < min_samples else s for s in signals
        ]
        probabilities = np.zeros((len(signals), len(self.labels)), dtype=np.float32)
        regression = np.zeros((len(signals), len(self.regression_targets)), dtype=np.float32)
        order = sorted(range(len(signals)), key=lambda i: signals[i].shape[0])
        chunk = []
        for position, index in enumerate(order):
            chunk.append(index)
            following = order[position + 1] if position + 1 < len(order) else None
            # Without an attention mask, padding would change the result: batch equal lengths only.
            if (
                following is None
                or len(chunk) >= batch_size
                or (
                    not self.uses_attention_mask and signals[following].shape[0] != signals[chunk[0]].shape[0]
                )
            ):
                probabilities[chunk], regression[chunk] = self._score([signals[i] for i in chunk])
                chunk = []
        return {**model_inputs, "probabilities": probabilities, "regression": regression}

    def _score(self, signals):
        # padding="longest", not Whisper's default 30 s: the model runs at the clip's own length.
        features = self.feature_extractor(
            signals,
            sampling_rate=self.sampling_rate,
            padding="longest",
            return_attention_mask=self.uses_attention_mask,
            return_tensors="pt",
        )
        dtype = next(self.model.parameters()).dtype
        name = "input_features" if self.is_whisper else "input_values"
        kwargs = {name: features[name].to(self.device, dtype)}
        if self.uses_attention_mask and "attention_mask" in features:
            kwargs["attention_mask"] = features["attention_mask"].to(self.device)
        output = self.model(**kwargs)
        # The temperature the recipe fitted on validation speakers (1 for models saved before it existed).
        temperature = float(getattr(self.model.config, "temperature", None) or 1.0)
        probabilities = torch.softmax(output.logits.float() / temperature, dim=-1)
        return probabilities.cpu().numpy(), output.valence_arousal.float().cpu().numpy()

    # ------------------------------------------------------------------ answers

    def _prediction(self, probabilities, regression, start, end):
        if probabilities is None:
            return {
                "label": None,
                "confidence": None,
                "valence": None,
                "arousal": None,
                "silent": True,
                "start": round(start, 4),
                "end": round(end, 4),
                "probabilities": {},
            }
        best = int(np.argmax(probabilities))
        dimensions = dict(zip(self.regression_targets, (float(v) for v in regression), strict=True))
        return {
            "label": self.labels[best],
            "confidence": float(probabilities[best]),
            "valence": dimensions.get("valence"),
            "arousal": dimensions.get("arousal"),
            "silent": False,
            "start": round(start, 4),
            "end": round(end, 4),
            "probabilities": {label: float(p) for label, p in zip(self.labels, probabilities, strict=True)},
        }

    def postprocess(self, model_outputs, top_k=None, details=False):
        """The whole input's answer (for windows: the mean of the audible windows' probabilities and
        valence/arousal), as a label list or, with `details`, a dict with the timeline."""
        probabilities, regression = model_outputs["probabilities"], model_outputs["regression"]
        segments = model_outputs["segments"]
        timeline, row = [], 0
        for start, end, audible in segments:
            if audible:
                timeline.append(self._prediction(probabilities[row], regression[row], start, end))
                row += 1
            else:
                timeline.append(self._prediction(None, None, start, end))
        end = segments[-1][1]
        if row == 0:
            result = self._prediction(None, None, 0.0, end)
        else:
            result = self._prediction(
                probabilities.astype(np.float64).mean(axis=0),
                regression.astype(np.float64).mean(axis=0),
                0.0,
                end,
            )
        ranked = sorted(result["probabilities"].items(), key=lambda item: item[1], reverse=True)
        labels = [{"label": label, "score": score} for label, score in ranked[: top_k or len(ranked)]]
        if not details:
            return labels
        result = {"labels": labels, **result}  # the plain answer first, then what details add
        if model_outputs["windowed"]:
            result["timeline"] = timeline
        return result
