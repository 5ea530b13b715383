"""Recording conditions a demo user's audio meets, applied to clean clips for evaluation.

A condition is named by a short spec, ``kind[:value]``:

| spec | what it does |
|---|---|
| ``clean`` | nothing |
| ``white:<snr dB>`` | adds white Gaussian noise at that signal-to-noise ratio |
| ``babble:<snr dB>`` | adds the sum of four other speakers' clips (from the same evaluation set) at that SNR |
| ``reverb:<rt60 s>`` | convolves with a simulated 6×5×3 m room's impulse response (pyroomacoustics, image source method) |
| ``telephone`` | 8 kHz, 300-3400 Hz band, 8-bit μ-law (G.711), back to the model's rate |
| ``mp3:<kbit/s>`` | encodes to MP3 (LAME via ``lameenc``) and decodes it again (libsndfile) |
| ``trim:energy``, ``trim:vad`` | cuts the clip to its speech (see :mod:`hf_emotion.data.framing`) |
| ``silence:<s>``, ``noise:<s>`` | adds ``s`` seconds of digital silence, or of quiet room noise, before and after |

Steps join with ``+`` and apply left to right: ``trim:vad+silence:0.5`` is the clip cut to its
speech by Silero VAD, then framed in half a second of silence on each side.

Every condition is deterministic for a clip index and seed, so two models are compared on the
same degraded audio. SNR is measured over the whole clip (RAVDESS-like clips are mostly speech).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

import numpy as np
from scipy import signal as scipy_signal

ClipTransform = Callable[[np.ndarray, int], np.ndarray]

BABBLE_TALKERS = 4
ROOM_DIMENSIONS = (6.0, 5.0, 3.0)  # metres: a living room or small office
TELEPHONE_RATE = 8000
MU = 255  # G.711 μ-law
ROBUSTNESS_CONDITIONS = (
    *("white:20", "white:10", "white:5"),
    *("babble:20", "babble:10", "babble:5"),
    *("reverb:0.3", "reverb:0.8"),
    *("telephone", "mp3:64"),
)
#: How speech is framed: trimmed by energy or VAD, then padded again with silence or room noise.
FRAMING_CONDITIONS = (
    *("trim:energy", "trim:vad"),
    *("trim:vad+silence:0.25", "trim:vad+silence:0.5", "trim:vad+silence:1"),
    *("trim:vad+noise:0.25", "trim:vad+noise:0.5", "trim:vad+noise:1"),
    "silence:2",
)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


def mix_at_snr(clean: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``clean`` plus ``noise`` (tiled or cut to its length) scaled to ``snr_db`` below it."""
    if not noise.size or _rms(noise) == 0.0:
        raise ValueError("the noise is silent or empty")
    noise = np.resize(noise, clean.shape)  # repeats a short noise
    gain = _rms(clean) / (_rms(noise) * 10 ** (snr_db / 20))
    return (clean + gain * noise).astype(np.float32)


def white_noise(snr_db: float, seed: int = 0) -> ClipTransform:
    def apply(clip: np.ndarray, index: int) -> np.ndarray:
        rng = np.random.default_rng([seed, index])
        return mix_at_snr(clip, rng.standard_normal(clip.shape[0]), snr_db)

    return apply


def babble_noise(
    snr_db: float, signals: Sequence[np.ndarray], speakers: Sequence[str], seed: int = 0
) -> ClipTransform:
    """Babble for clip ``i``: :data:`BABBLE_TALKERS` clips of other speakers, each at equal level, summed."""
    by_speaker: dict[str, list[int]] = {}
    for i, speaker in enumerate(speakers):
        by_speaker.setdefault(speaker, []).append(i)
    if len(by_speaker) < 2:
        raise ValueError(
            "babble needs clips of at least two speakers (it is made of the other speakers' clips)"
        )

    def apply(clip: np.ndarray, index: int) -> np.ndarray:
        rng = np.random.default_rng([seed, index])
        others = [s for s in sorted(by_speaker) if s != speakers[index]]
        talkers = rng.choice(others, size=min(BABBLE_TALKERS, len(others)), replace=False)
        babble = np.zeros(clip.shape[0], dtype=np.float64)
        for talker in talkers:
            other = np.asarray(signals[int(rng.choice(by_speaker[talker]))], dtype=np.float64)
            start = int(rng.integers(0, max(other.shape[0] // 2, 1)))  # not all starting on the same onset
            other = np.resize(np.roll(other, -start), clip.shape[0])
            babble += other / max(_rms(other), 1e-8)
        return mix_at_snr(clip, babble, snr_db)

    return apply


def room_impulse_response(rt60: float, sampling_rate: int) -> np.ndarray:
    """The impulse response from a talker to a microphone 2.8 m away in a shoebox room with that RT60."""
    try:
        import pyroomacoustics as pra
    except ImportError as error:
        raise ImportError(
            "reverb conditions need pyroomacoustics: pip install 'hf-emotion[conditions]'"
        ) from error
    absorption, max_order = pra.inverse_sabine(rt60, list(ROOM_DIMENSIONS))
    room = pra.ShoeBox(
        list(ROOM_DIMENSIONS), fs=sampling_rate, materials=pra.Material(absorption), max_order=max_order
    )
    room.add_source([2.0, 3.5, 1.6])
    room.add_microphone([4.0, 1.5, 1.2])
    room.compute_rir()
    return np.asarray(room.rir[0][0], dtype=np.float64)


def reverberation(rt60: float, sampling_rate: int) -> ClipTransform:
    rir = room_impulse_response(rt60, sampling_rate)
    delay = int(np.argmax(np.abs(rir)))  # the direct path: keep the clip aligned with the original

    def apply(clip: np.ndarray, index: int) -> np.ndarray:
        wet = scipy_signal.fftconvolve(clip.astype(np.float64), rir)[delay : delay + clip.shape[0]]
        return (wet * _rms(clip) / max(_rms(wet), 1e-12)).astype(np.float32)

    return apply


def mu_law(x: np.ndarray, mu: int = MU) -> np.ndarray:
    """8-bit μ-law encode then decode (the quantisation a G.711 telephone line applies)."""
    x = np.clip(x, -1.0, 1.0)
    compressed = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
    codes = np.round((compressed + 1) / 2 * mu)  # 256 levels
    decoded = codes / mu * 2 - 1
    return np.sign(decoded) * np.expm1(np.abs(decoded) * np.log1p(mu)) / mu


def telephone(sampling_rate: int) -> ClipTransform:
    band = scipy_signal.butter(4, [300, 3400], btype="bandpass", fs=TELEPHONE_RATE, output="sos")
    divisor = np.gcd(sampling_rate, TELEPHONE_RATE)

    def apply(clip: np.ndarray, index: int) -> np.ndarray:
        narrow = scipy_signal.resample_poly(clip, TELEPHONE_RATE // divisor, sampling_rate // divisor)
        narrow = mu_law(scipy_signal.sosfiltfilt(band, narrow))  # zero phase: stays aligned
        wide = scipy_signal.resample_poly(narrow, sampling_rate // divisor, TELEPHONE_RATE // divisor)
        return np.resize(wide, clip.shape).astype(np.float32)

    return apply


def mp3_roundtrip(kbps: int, sampling_rate: int) -> ClipTransform:
    try:
        import lameenc
    except ImportError as error:
        raise ImportError("mp3 conditions need lameenc: pip install 'hf-emotion[conditions]'") from error
    import soundfile as sf

    def roundtrip(clip: np.ndarray) -> np.ndarray:
        encoder = lameenc.Encoder()
        encoder.set_bit_rate(kbps)
        encoder.set_in_sample_rate(sampling_rate)
        encoder.set_channels(1)
        encoder.set_quality(2)
        pcm = (np.clip(clip, -1.0, 1.0) * 32767).astype(np.int16).tobytes()
        decoded, rate = sf.read(io.BytesIO(bytes(encoder.encode(pcm) + encoder.flush())), dtype="float32")
        if rate != sampling_rate:
            raise RuntimeError(f"MP3 decoded at {rate} Hz, not {sampling_rate} Hz")
        return decoded

    # The codec's delay (LAME's encoder plus decoder padding, ~1105 samples): measured once on a
    # click, then cut, so the decoded clip lines up with the original.
    click = np.zeros(sampling_rate // 2, dtype=np.float32)
    click[sampling_rate // 10] = 0.9
    delay = int(np.argmax(np.abs(roundtrip(click)))) - sampling_rate // 10

    def apply(clip: np.ndarray, index: int) -> np.ndarray:
        decoded = roundtrip(clip)[delay : delay + clip.shape[0]]
        return np.pad(decoded, (0, clip.shape[0] - decoded.shape[0]))

    return apply


KINDS_WITH_VALUE = {
    "white": "SNR in dB",
    "babble": "SNR in dB",
    "reverb": "RT60 in s",
    "mp3": "kbit/s",
    "silence": "seconds",
    "noise": "seconds",
}
KINDS = "clean, white:<dB>, babble:<dB>, reverb:<s>, telephone, mp3:<kbps>, trim:<energy|vad>, silence:<s> or noise:<s>"


def parse_condition(spec: str) -> tuple[str, float | str | None]:
    """``"babble:10"`` → ``("babble", 10.0)``, ``"trim:vad"`` → ``("trim", "vad")``: one step.

    A ``ValueError`` says what a bad spec should look like.
    """
    from .framing import TRIM_METHODS

    kind, _, value = spec.partition(":")
    if kind in KINDS_WITH_VALUE:
        try:
            number = float(value)
        except ValueError:
            raise ValueError(
                f"condition {spec!r}: give {kind}:<{KINDS_WITH_VALUE[kind]}>, e.g. {kind}:10"
            ) from None
        if kind in ("silence", "noise") and not 0 <= number <= 60:
            raise ValueError(f"condition {spec!r}: give 0 to 60 seconds")
        return kind, number
    if kind == "trim":
        if value not in TRIM_METHODS:
            raise ValueError(f"condition {spec!r}: give trim:energy or trim:vad")
        return kind, value
    if kind in ("clean", "telephone") and not value:
        return kind, None
    if kind in ("clean", "telephone"):
        raise ValueError(f"condition {spec!r}: {kind} takes no value")
    raise ValueError(f"condition {spec!r} is unknown; use {KINDS}, or steps joined by +")


def parse_steps(spec: str) -> list[tuple[str, float | str | None]]:
    """``"trim:vad+silence:0.5"`` → ``[("trim", "vad"), ("silence", 0.5)]``; every step checked."""
    return [parse_condition(step) for step in spec.split("+")]


def make_condition(
    spec: str,
    sampling_rate: int,
    *,
    signals: Sequence[np.ndarray] | None = None,
    speakers: Sequence[str] | None = None,
    seed: int = 0,
) -> ClipTransform | None:
    """The transform a spec names (``None`` for ``clean``).

    Args:
        spec: see the module's table (``babble:10``, ``reverb:0.6``, ``telephone``, ...).
        sampling_rate: the clips' rate.
        signals, speakers: the evaluation set's clips and their speakers (babble is made of them).
        seed: with a clip's index, fixes its noise.

    Raises:
        ValueError: an unknown kind or a value that does not parse, naming the spec.
    """
    steps = [
        _step_transform(kind, value, sampling_rate, signals=signals, speakers=speakers, seed=seed, spec=spec)
        for kind, value in parse_steps(spec)
    ]
    steps = [step for step in steps if step is not None]
    if not steps:
        return None
    if len(steps) == 1:
        return steps[0]

    def apply(clip: np.ndarray, index: int) -> np.ndarray:
        for step in steps:
            clip = step(clip, index)
        return clip

    return apply


def _step_transform(kind, value, sampling_rate, *, signals, speakers, seed, spec) -> ClipTransform | None:
    if kind == "clean":
        return None
    if kind == "white":
        return white_noise(value, seed)
    if kind == "babble":
        if signals is None or speakers is None:
            raise ValueError(f"condition {spec!r} needs the evaluation set's clips and speakers")
        return babble_noise(value, signals, speakers, seed)
    if kind == "reverb":
        return reverberation(value, sampling_rate)
    if kind == "telephone":
        return telephone(sampling_rate)
    if kind == "mp3":
        return mp3_roundtrip(int(value), sampling_rate)
    return framing_step(kind, value, sampling_rate, seed)


def framing_step(kind: str, value, sampling_rate: int, seed: int = 0) -> ClipTransform:
    """``trim``, ``silence`` or ``noise`` as a transform (room noise fixed by the seed and clip index)."""
    from .framing import frame_with, trim_to_speech

    if kind == "trim":
        return lambda clip, index: trim_to_speech(clip, sampling_rate, value)

    def apply(clip: np.ndarray, index: int) -> np.ndarray:
        return frame_with(clip, value, sampling_rate, kind, np.random.default_rng([seed, index]))

    return apply


def condition_key(spec: str) -> str:
    """``"babble:10"`` → ``"babble10"``, ``"trim:vad+silence:0.5"`` → ``"trimvad_silence0.5"``: a results-key name."""
    return spec.replace(":", "").replace("+", "_")
