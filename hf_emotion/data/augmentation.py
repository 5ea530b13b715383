"""Training augmentation with the recording conditions of ``hf_emotion.data.conditions``, on the fly.

Built on audiomentations (a maintained library), so each training clip meets, with
probability ``p``, one of: white noise or babble (another training clip) at 5-20 dB SNR, a
simulated room (impulse responses made once with pyroomacoustics, RT60 0.2-0.9 s), a telephone
band (300-3400 Hz) or MP3 at 32-64 kbit/s. The evaluation conditions are fixed points inside
these ranges, so a model trained this way is tested on conditions it has met, not on the
exact audio.

The collator applies it to each training clip after the random crop (see
``ConditionAugmenter.__call__``); evaluation clips are never augmented.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

from .conditions import room_impulse_response

TRAINING_RT60S = (0.2, 0.35, 0.5, 0.7, 0.9)


def write_room_impulse_responses(folder: str | os.PathLike, sampling_rate: int) -> list[Path]:
    """One WAV impulse response per RT60 in :data:`TRAINING_RT60S`, made once and reused."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for rt60 in TRAINING_RT60S:
        path = folder / f"room-rt60-{rt60:.2f}-{sampling_rate}.wav"
        if not path.exists():
            rir = room_impulse_response(rt60, sampling_rate)
            sf.write(path, (rir / np.max(np.abs(rir))).astype(np.float32), sampling_rate)
        paths.append(path)
    return paths


class ConditionAugmenter:
    """Degrades a training clip with one randomly chosen recording condition, with probability ``p``.

    Args:
        sampling_rate: the clips' rate.
        noise_clips: audio files whose sound becomes babble (the training clips: other voices).
        rir_folder: where the room impulse responses are written once (a cache folder).
        p: the share of clips degraded.

    Example:
        >>> import numpy as np, tempfile
        >>> augment = ConditionAugmenter(16000, noise_clips=[], rir_folder=tempfile.mkdtemp(), p=1.0)
        >>> clip = np.sin(np.arange(16000) / 16000 * 2 * np.pi * 220).astype(np.float32)
        >>> degraded = augment(clip)
        >>> degraded.shape, bool(np.allclose(degraded, clip))
        ((16000,), False)
    """

    def __init__(
        self,
        sampling_rate: int,
        *,
        noise_clips: Sequence[str | os.PathLike],
        rir_folder: str | os.PathLike,
        p: float = 0.5,
    ) -> None:
        try:
            import audiomentations as A
        except ImportError as error:
            raise ImportError(
                "condition augmentation needs audiomentations: pip install 'hf-emotion[conditions]'"
            ) from error
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"the augmentation probability must lie in [0, 1], got {p}")
        self.sampling_rate = sampling_rate
        self.p = p
        choices = [
            A.AddGaussianSNR(min_snr_db=5.0, max_snr_db=20.0, p=1.0),
            A.ApplyImpulseResponse(
                ir_path=[str(p) for p in write_room_impulse_responses(rir_folder, sampling_rate)], p=1.0
            ),
            A.Compose(
                [  # telephone band
                    A.HighPassFilter(min_cutoff_freq=300.0, max_cutoff_freq=300.0, p=1.0),
                    A.LowPassFilter(min_cutoff_freq=3400.0, max_cutoff_freq=3400.0, p=1.0),
                ]
            ),
            A.Mp3Compression(min_bitrate=32, max_bitrate=64, backend="lameenc", preserve_delay=True, p=1.0),
        ]
        if noise_clips:
            choices.append(
                A.AddBackgroundNoise(
                    sounds_path=[str(c) for c in noise_clips], min_snr_db=5.0, max_snr_db=20.0, p=1.0
                )
            )
        self.transform = A.OneOf(choices, p=p)

    def __call__(self, samples: np.ndarray) -> np.ndarray:
        """The clip (1-D float32 at ``sampling_rate``), degraded or as it was; always the same length."""
        out = self.transform(samples=np.asarray(samples, dtype=np.float32), sample_rate=self.sampling_rate)
        out = np.asarray(out, dtype=np.float32)[: samples.shape[0]]
        return np.pad(out, (0, samples.shape[0] - out.shape[0]))
