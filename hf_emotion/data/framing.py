"""How a clip frames its speech: cut to the speech, then framed again with silence or room noise.

RAVDESS surrounds every utterance with about a second of silence; a microphone clip starts when
its user presses record, ``--segment vad`` cuts speech with no margin, and other corpora (TESS,
CREMA-D) have little or none. A model that has learned the framing rather than the voice falls
apart on such clips. These transforms make the framings a model meets, for evaluation
(``evaluate --condition trim:vad+silence:0.5``) and for training crops.

| step | what it does |
|---|---|
| ``trim:energy`` | cuts to the 10-ms frames within 30 dB of the loudest (as ``librosa.effects.trim(top_db=30)``) |
| ``trim:vad`` | cuts from the first to the last speech sample Silero VAD finds (the cut ``--segment vad`` makes) |
| ``silence:<s>`` | adds ``s`` seconds of digital silence before and after |
| ``noise:<s>`` | adds ``s`` seconds of quiet room noise (pink, -60 dBFS RMS) before and after |
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)

#: ``trim:energy`` keeps frames within this many dB of the clip's loudest frame.
TRIM_TOP_DB = 30.0
#: Frame and hop of the energy trim, in seconds: short enough to place a boundary within a few ms.
TRIM_FRAME_SECONDS = 0.010
TRIM_HOP_SECONDS = 0.0025
#: Level of the room noise that ``noise:<s>`` pads with: a quiet room through a laptop microphone.
ROOM_NOISE_DBFS = -60.0
TRIM_METHODS = ("energy", "vad")


def energy_speech_span(clip: np.ndarray, sampling_rate: int, top_db: float = TRIM_TOP_DB) -> tuple[int, int]:
    """``(start, end)`` samples of the part of ``clip`` within ``top_db`` of its loudest frame.

    As ``librosa.effects.trim(top_db=...)``, but with short frames and each boundary placed at the
    centre of the first (last) frame above the threshold, so it lands within about one hop
    (2.5 ms) of where the level crosses it; librosa's 128-ms frames reach ~60 ms into the silence.
    An all-zero clip gives ``(0, 0)``.
    """
    samples = np.asarray(clip, dtype=np.float64)
    frame = max(1, round(TRIM_FRAME_SECONDS * sampling_rate))
    hop = max(1, round(TRIM_HOP_SECONDS * sampling_rate))
    if samples.size < frame:
        samples = np.pad(samples, (0, frame - samples.size))
    energy = np.concatenate([[0.0], np.cumsum(samples**2)])
    starts = np.arange(0, samples.size - frame + 1, hop)
    power = (energy[starts + frame] - energy[starts]) / frame
    if power.max() <= 0:
        return 0, 0
    loud = np.flatnonzero(10 * np.log10(np.maximum(power, 1e-20) / power.max()) > -top_db)
    centre = frame // 2
    return int(starts[loud[0]] + centre), int(min(len(clip), starts[loud[-1]] + centre))


def vad_speech_span(clip: np.ndarray, sampling_rate: int) -> tuple[int, int] | None:
    """``(start, end)`` samples from the first to the last speech Silero VAD finds, or ``None``.

    The VAD's settings are those of ``--segment vad`` (no padding), so a trimmed clip is what a
    user who cuts a recording by VAD gives the model. Silero runs at 16 kHz (or 8 kHz); other
    rates are resampled for the VAD only.
    """
    from .vad import VAD_SAMPLING_RATES, speech_spans

    vad_rate = sampling_rate if sampling_rate in VAD_SAMPLING_RATES else 16_000
    signal = np.asarray(clip, dtype=np.float32)
    if vad_rate != sampling_rate:
        import soxr

        signal = soxr.resample(signal, sampling_rate, vad_rate)
    spans, _ = speech_spans([signal], vad_rate)
    if not spans:
        return None
    scale = sampling_rate / vad_rate
    return round(spans[0][0] * scale), min(len(clip), round(spans[-1][1] * scale))


#: Spans already found, by (method, rate, clip digest): the framings of one evaluation (``trim:vad``,
#: ``trim:vad+silence:0.5``, ...) and the folds of a cross-validation cut the same clips, and Silero need not
#: run again for each of them.
_SPANS: OrderedDict[tuple, tuple[int, int] | None] = OrderedDict()
_SPANS_KEPT = 200_000  # a few hundred bytes each: every clip of a large corpus, so folds never evict


def speech_span(clip: np.ndarray, sampling_rate: int, method: str) -> tuple[int, int] | None:
    """``(start, end)`` of the speech in ``clip`` by ``method`` (``"energy"`` or ``"vad"``), found once per clip."""
    if method not in TRIM_METHODS:
        raise ValueError(f"trim method {method!r}: use one of {', '.join(TRIM_METHODS)}")
    samples = np.ascontiguousarray(clip, dtype=np.float32)
    key = (method, sampling_rate, hashlib.blake2b(samples.tobytes(), digest_size=16).digest())
    if key not in _SPANS:
        find = energy_speech_span if method == "energy" else vad_speech_span
        _SPANS[key] = find(samples, sampling_rate)
        if len(_SPANS) > _SPANS_KEPT:
            _SPANS.popitem(last=False)
    return _SPANS[key]


def trim_to_speech(clip: np.ndarray, sampling_rate: int, method: str) -> np.ndarray:
    """``clip`` cut to its speech by ``method`` (``"energy"`` or ``"vad"``); unchanged if none is found."""
    span = speech_span(clip, sampling_rate, method)
    if span is None or span[1] <= span[0]:
        return clip
    return clip[span[0] : span[1]]


def room_noise(samples: int, rng: np.random.Generator, dbfs: float = ROOM_NOISE_DBFS) -> np.ndarray:
    """Pink noise (power falling as 1/f, like a room's ventilation and hum) at ``dbfs`` RMS."""
    if samples <= 0:
        return np.zeros(0, dtype=np.float32)
    spectrum = np.fft.rfft(rng.standard_normal(samples))
    frequencies = np.arange(spectrum.shape[0], dtype=np.float64)
    spectrum /= np.sqrt(np.maximum(frequencies, 1.0))  # 1/f power
    noise = np.fft.irfft(spectrum, n=samples)
    rms = np.sqrt(np.mean(noise**2))
    return (noise * (10 ** (dbfs / 20) / max(rms, 1e-12))).astype(np.float32)


def frame_with(
    clip: np.ndarray, seconds: float, sampling_rate: int, fill: str, rng: np.random.Generator
) -> np.ndarray:
    """``clip`` with ``seconds`` of ``fill`` (``"silence"`` or ``"noise"``) before and after it."""
    margin = round(seconds * sampling_rate)
    if fill == "silence":
        before = after = np.zeros(margin, dtype=np.float32)
    elif fill == "noise":
        before, after = room_noise(margin, rng), room_noise(margin, rng)
    else:
        raise ValueError(f"fill {fill!r}: use silence or noise")
    return np.concatenate([before, np.asarray(clip, dtype=np.float32), after])


@dataclass(frozen=True)
class TrainingFraming:
    """Training crops that carry no framing cue: speech only, framed anew at every epoch.

    Each training clip is cut to its speech once (:func:`add_speech_spans`); every time the
    collator draws it, a random window inside the speech is framed by a random amount (none to
    ``max_pad_seconds`` on each side, drawn apart) of digital silence, quiet room noise or
    nothing. The model then meets every framing a user's clip may have, and none of them tells
    it the emotion. Evaluation never applies it (the collator frames training crops only).

    Example:
        >>> import numpy as np
        >>> framing = TrainingFraming(16_000, max_pad_seconds=1.0)
        >>> clip = np.ones(48_000, dtype=np.float32)
        >>> rng = np.random.default_rng(0)
        >>> crop = framing(clip, (16_000, 32_000), max_seconds=3.0, rng=rng)
        >>> 16_000 <= len(crop) <= 48_000, float(crop.max())
        (True, 1.0)
    """

    sampling_rate: int
    max_pad_seconds: float = 1.0
    fills: tuple[str, ...] = ("silence", "noise", "none")

    def __call__(
        self,
        clip: np.ndarray,
        span: tuple[int, int] | None,
        *,
        max_seconds: float | None,
        rng: np.random.Generator,
    ) -> np.ndarray:
        start, end = span if span and span[1] > span[0] else (0, len(clip))
        speech = np.asarray(clip[start:end], dtype=np.float32)
        fill = self.fills[int(rng.integers(len(self.fills)))]
        pads = (
            (0, 0)
            if fill == "none"
            else tuple(round(rng.uniform(0, self.max_pad_seconds) * self.sampling_rate) for _ in range(2))
        )
        if max_seconds:
            # The speech window shrinks to leave room for the margins, never below a second.
            room = max(int(max_seconds * self.sampling_rate) - sum(pads), self.sampling_rate)
            if len(speech) > room:
                offset = int(rng.integers(0, len(speech) - room + 1))
                speech = speech[offset : offset + room]
        if fill == "none":
            return speech
        margins = [np.zeros(n, np.float32) if fill == "silence" else room_noise(n, rng) for n in pads]
        return np.concatenate([margins[0], speech, margins[1]])


def available_trim_method() -> str:
    """``"vad"`` when Silero VAD is installed, else ``"energy"``, with a warning saying what to install.

    Training must not fail for want of the ``[vad]`` extra: the energy trim finds the same speech in
    clean studio recordings (RAVDESS, CREMA-D), if less surely in noise.
    """
    import importlib.util

    if importlib.util.find_spec("silero_vad") is not None:
        return "vad"
    logger.warning(
        "Silero VAD is not installed: speech is found by energy instead (pip install 'hf-emotion[vad]' for the VAD)"
    )
    return "energy"


def add_speech_spans(dataset, sampling_rate: int, *, method: str = "vad", num_proc: int | None = None):
    """``speech_start``/``speech_end`` columns (samples) on a decoded dataset: each clip's speech, found once.

    Each clip's speech is found once per process (:func:`speech_span` keeps it by the clip's content): a
    cross-validation's folds are new subsets of the same clips, which ``datasets``' own cache (by fingerprint)
    cannot serve, and finding speech in every fold again took about 2 minutes a fold on the three corpora of
    the general run file (2 CPU cores). A clip where nothing is found gets its whole length.
    """

    def spans(batch):
        found = []
        for audio in batch["input_audio"]:
            samples = np.asarray(audio, dtype=np.float32)
            span = speech_span(samples, sampling_rate, method)
            found.append(span if span and span[1] > span[0] else (0, len(samples)))
        return {"speech_start": [s for s, _ in found], "speech_end": [e for _, e in found]}

    return dataset.map(
        spans, batched=True, batch_size=32, num_proc=num_proc, desc=f"Finding speech ({method})"
    )


#: Column a clip cut to its speech carries (its value: the trim method), so that what is known by the clip's
#: file (``PooledFeatureCache``) never takes the cut clip for the whole one.
CUT_COLUMN = "cut_to_speech"


def trimmed_to_speech(dataset, sampling_rate: int, *, method: str = "vad", num_proc: int | None = None):
    """The decoded clips of ``dataset`` cut to their speech, as ``trim:vad`` (or ``trim:energy``) cuts them;
    each row says so in ``CUT_COLUMN``."""
    return cut_to_spans(add_speech_spans(dataset, sampling_rate, method=method, num_proc=num_proc), method)


def cut_to_spans(spans, method: str):
    """The clips of ``spans`` (a dataset :func:`add_speech_spans` gave its speech) cut to that speech, marked
    with ``method`` in ``CUT_COLUMN``; without the span columns."""

    def cut(batch):
        return {
            "input_audio": [
                np.asarray(audio, dtype=np.float32)[start:end]
                for audio, start, end in zip(
                    batch["input_audio"], batch["speech_start"], batch["speech_end"], strict=True
                )
            ],
            CUT_COLUMN: [method] * len(batch["input_audio"]),
        }

    return spans.map(cut, batched=True, batch_size=32, desc="Cutting to speech").remove_columns(
        ["speech_start", "speech_end"]
    )
