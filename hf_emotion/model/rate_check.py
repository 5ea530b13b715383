"""Is the sampling rate declared with an array plausible for the voice in it?

An array comes with a rate its caller declares (`sampling_rate=44100`); a wrong one is not an error anywhere else:
16-kHz speech declared as 44.1 kHz is resampled into a voice 2.8 times too high and scored with full confidence.
A wrong rate scales every frequency of the voice by declared / true rate, so this check measures two of them on
the raw input, before any resampling:

- the median pitch of the loudest voiced frames (YIN, de Cheveigné & Kawahara 2002), in Hz at the declared rate;
- the median frequency of the energy of the loudest frames between 50 and 4000 Hz (where F1 and F2 lie).

Their mean log-distance from a typical voice (200 Hz, 500 Hz), in octaves, estimates log2(declared / true rate).
Only features below 4 kHz count, so audio upsampled to 44.1 kHz (nothing above 8 kHz) and real broadband audio
look alike. `benchmarks/rate_plausibility.py` measured the bounds (false warnings and catches per corpus,
speech and song, in `benchmarks/results/rate_plausibility.md`): outside them a correctly declared clip is rare.
A voice 1.5x off (22.05 kHz declared as 16 kHz) stays inside; half the 2x cases do too.

Saved beside every model with `pipeline_emotion.py`, which imports it: numpy only, nothing from `hf_emotion`.
"""

import logging
import math

import numpy as np

logger = logging.getLogger(__name__)

#: A typical voice: median pitch and median frequency of the energy below 4 kHz (octave offsets are from these).
REFERENCE_PITCH_HZ = 200.0
REFERENCE_BAND_MEDIAN_HZ = 500.0
#: Bounds on the estimated log2(declared / true rate), in octaves, outside which a rate is called implausible:
#: 0.1 octave beyond the most extreme of 900 correctly declared clips (RAVDESS speech and song, CREMA-D, each at
#: 8 to 48 kHz) in `benchmarks/rate_plausibility.py`. High voices (song, screams) reach further up than low ones
#: down, hence the asymmetry.
LOWEST_SCALE_OCTAVES = -1.35
HIGHEST_SCALE_OCTAVES = 1.45
#: Pitch search range (Hz at the declared rate): wide enough to see a voice scaled 3x either way.
PITCH_MIN_HZ = 40.0
PITCH_MAX_HZ = 1200.0
#: YIN's threshold on the cumulative-mean-normalised difference, and the largest minimum still called voiced.
YIN_THRESHOLD = 0.15
YIN_VOICED = 0.35
#: Only the loudest frames are analysed (at most this many, within 30 dB of the loudest), from the first seconds.
ANALYSED_FRAMES = 32
ANALYSED_SECONDS = 30.0
#: Fewer voiced frames than this: no verdict (silence, noise, a click).
MIN_VOICED_FRAMES = 4
#: Rates a recording is commonly made at; the likely true rate is named from these (the estimate is too coarse to
#: tell 44.1 from 48 kHz, or to suggest rarer ones such as 11.025 or 32 kHz).
COMMON_RATES = (8_000, 16_000, 22_050, 44_100, 48_000)


def loudest_frames(samples: np.ndarray, frame: int) -> np.ndarray:
    """``(frames, frame)``: the loudest half-overlapping frames (at most ``ANALYSED_FRAMES``, each within 30 dB
    of the loudest), loudest first; empty for a signal shorter than a frame or silent."""
    if samples.shape[0] < frame:
        return np.zeros((0, frame))
    hop = frame // 2
    frames = np.lib.stride_tricks.sliding_window_view(samples, frame)[::hop]
    energy = np.einsum("ij,ij->i", frames, frames, dtype=np.float64)
    order = np.argsort(energy)[::-1][:ANALYSED_FRAMES]
    if energy[order[0]] <= 0:
        return np.zeros((0, frame))
    order = order[energy[order] >= energy[order[0]] * 1e-3]
    return frames[order].astype(np.float64)


def yin_pitches(frames: np.ndarray, rate: int) -> np.ndarray:
    """The pitch (Hz) of each voiced frame by YIN; unvoiced frames are left out."""
    frame = frames.shape[1]
    tau_max = frame // 2
    spectrum = np.fft.rfft(frames, 2 * frame, axis=1)
    # sum_j x[j] x[j + tau] over the j < frame - tau that overlap: one FFT pair for every lag
    correlation = np.fft.irfft(spectrum.real**2 + spectrum.imag**2, 2 * frame, axis=1)[:, : tau_max + 1]
    energy = np.concatenate([np.zeros((frames.shape[0], 1)), np.cumsum(frames**2, axis=1)], axis=1)
    lags = np.arange(tau_max + 1)
    # d(tau) = sum of (x[j] - x[j + tau])^2 over those j, per overlapping sample (the overlap shrinks with tau)
    difference = (energy[:, frame - lags] + energy[:, [frame]] - energy[:, lags] - 2 * correlation) / (
        frame - lags
    )
    running_mean = np.cumsum(difference[:, 1:], axis=1) / lags[1:]
    normalised = difference[:, 1:] / np.maximum(running_mean, 1e-20)  # index i is lag i + 1
    lowest = max(2, int(rate / PITCH_MAX_HZ))
    search = normalised[:, lowest - 1 :]
    below = search < YIN_THRESHOLD
    # The first dip under the threshold, followed down to its minimum; else the global minimum if low enough.
    first = np.argmax(below, axis=1)
    rising = np.concatenate([search[:, 1:] >= search[:, :-1], np.ones((search.shape[0], 1), bool)], axis=1)
    rising &= np.arange(search.shape[1]) >= first[:, None]
    dip = np.where(below.any(axis=1), np.argmax(rising, axis=1), np.argmin(search, axis=1))
    voiced = search[np.arange(search.shape[0]), dip] <= YIN_VOICED
    return rate / (lowest + dip[voiced])


def fast_length(minimum: int) -> int:
    """The smallest even 2^a 3^b 5^c >= minimum: a length numpy's FFT handles quickly (a prime is slow)."""
    best = 2 * minimum
    power2 = 2
    while power2 < best:
        power3 = power2
        while power3 < best:
            power5 = power3
            while power5 < best:
                if power5 >= minimum:
                    best = power5
                power5 *= 5
            power3 *= 3
        power2 *= 2
    return best


def band_median(frames: np.ndarray, rate: int) -> float:
    """The frequency (Hz) under which half the energy between 50 Hz and 4 kHz (or Nyquist) lies."""
    frame = frames.shape[1]
    power = (np.abs(np.fft.rfft(frames * np.hanning(frame), axis=1)) ** 2).sum(axis=0)
    frequencies = np.fft.rfftfreq(frame, 1 / rate)
    band = (frequencies >= 50) & (frequencies <= min(4000, rate / 2))
    cumulative = np.cumsum(power[band])
    return float(frequencies[band][np.searchsorted(cumulative, cumulative[-1] / 2)])


def voice_features(samples: np.ndarray, rate: int) -> tuple[float, float, int]:
    """``(median pitch Hz, band median Hz, voiced frames)`` of mono samples read at ``rate``; NaNs when no frame
    is loud enough."""
    samples = np.asarray(samples)[: int(ANALYSED_SECONDS * rate)]
    frame = fast_length(2 * math.ceil(rate / PITCH_MIN_HZ))  # two periods of the lowest pitch
    frames = loudest_frames(samples, frame)
    if not len(frames):
        return math.nan, math.nan, 0
    pitches = yin_pitches(frames, rate)
    pitch = float(np.median(pitches)) if pitches.size else math.nan
    return pitch, band_median(frames, rate), int(pitches.size)


def scale_octaves(pitch: float, median: float) -> float:
    """Estimated log2(declared / true rate): the mean octave offset of pitch and band median from a typical voice."""
    return 0.5 * (math.log2(pitch / REFERENCE_PITCH_HZ) + math.log2(median / REFERENCE_BAND_MEDIAN_HZ))


def likely_rates(declared: int, octaves: float) -> str:
    """The common rate(s) nearest to what the voice suggests: ``"44100 or 48000"`` (indistinguishable), ``"16000"``."""
    guess = declared / 2**octaves
    nearest = min(COMMON_RATES, key=lambda rate: abs(math.log2(rate / guess)))
    return "44100 or 48000" if nearest in (44_100, 48_000) else str(nearest)


def rate_mismatch(samples: np.ndarray, rate: int, source: str = "<array>") -> str | None:
    """A one-line warning when the voice in ``samples`` is implausible at ``rate``, naming the likely true rate;
    ``None`` when it is plausible or no voice is found.

    Example:
        >>> t = np.arange(48000) / 48000  # one second of a 150-Hz voice recorded at 48 kHz
        >>> voice = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 20))
        >>> rate_mismatch(voice, 48000) is None
        True
        >>> rate_mismatch(voice, 16000)  # doctest: +ELLIPSIS
        'sampling_rate=16000 for <array> looks wrong: at that rate its voice is ...x too low (median pitch 50 Hz); was it recorded at 44100 or 48000 Hz?'
    """
    pitch, median, voiced = voice_features(samples, rate)
    if voiced < MIN_VOICED_FRAMES:
        return None
    octaves = scale_octaves(pitch, median)
    if LOWEST_SCALE_OCTAVES <= octaves <= HIGHEST_SCALE_OCTAVES:
        return None
    return (
        f"sampling_rate={rate} for {source} looks wrong: at that rate its voice is {2 ** abs(octaves):.1f}x too "
        f"{'high' if octaves > 0 else 'low'} (median pitch {pitch:.0f} Hz); was it recorded at "
        f"{likely_rates(rate, octaves)} Hz?"
    )


def warn_if_rate_implausible(samples: np.ndarray, rate: int, source: str = "<array>") -> None:
    """Log :func:`rate_mismatch`'s warning, if any: the input is still scored as declared."""
    message = rate_mismatch(samples, rate, source)
    if message:
        logger.warning(message)
