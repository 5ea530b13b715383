"""Synthetic audio and corpus folders for tests: real files on disk, no dataset audio.

Each emotion gets its own pitch and tremolo so that a small model can tell them apart
(which lets smoke tests check that training actually learns), and each speaker shifts the
pitch a little, as voices do.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import soundfile as sf

from hf_emotion.data.labels import EMOTIONS

EMOTION_PITCH = {name: 140.0 * (1.18**i) for i, name in enumerate(EMOTIONS)}
EMOTION_TREMOLO = {name: 2.0 + 1.5 * i for i, name in enumerate(EMOTIONS)}


def emotion_signal(
    emotion: str,
    seconds: float = 0.6,
    sampling_rate: int = 16_000,
    *,
    speaker_shift: float = 1.0,
    seed: int = 0,
    amplitude: float = 0.3,
) -> np.ndarray:
    """A voiced-like tone (a few harmonics, tremolo, a little noise) for an emotion."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sampling_rate)) / sampling_rate
    f0 = EMOTION_PITCH[emotion] * speaker_shift
    voice = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 5))
    tremolo = 0.6 + 0.4 * np.sin(2 * np.pi * EMOTION_TREMOLO[emotion] * t)
    signal = amplitude * tremolo * voice / 2.1 + 0.01 * rng.standard_normal(t.shape)
    return signal.astype(np.float32)


def write_audio(
    path: Path, samples: np.ndarray, sampling_rate: int = 16_000, subtype: str | None = None
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, samples, sampling_rate, subtype=subtype)
    return path


def make_ravdess_tree(
    root: Path,
    *,
    actors=range(1, 9),
    channel: str = "speech",
    emotions=EMOTIONS,
    statements=(1,),
    repetitions=(1,),
    extension: str = "wav",
    sampling_rate: int = 16_000,
    seconds: float = 0.6,
) -> Path:
    """A RAVDESS-named folder ``root/Actor_XX/03-CC-EE-II-SS-RR-AA.ext``."""
    channel_code = {"speech": "01", "song": "02"}[channel]
    for actor in actors:
        for e, emotion in enumerate(EMOTIONS):
            if emotion not in emotions:
                continue
            if channel == "song" and emotion in ("disgust", "surprised"):
                continue
            intensities = ("01",) if emotion == "neutral" else ("01", "02")
            for intensity in intensities:
                for statement in statements:
                    for repetition in repetitions:
                        name = f"03-{channel_code}-{e + 1:02d}-{intensity}-{statement:02d}-{repetition:02d}-{actor:02d}"
                        seed = hash((actor, e, intensity, statement, repetition)) % 2**32
                        samples = emotion_signal(
                            emotion,
                            seconds,
                            sampling_rate,
                            speaker_shift=1.0 + 0.03 * (actor % 5),
                            seed=seed,
                            amplitude=0.3 if intensity == "01" else 0.5,
                        )
                        write_audio(
                            root / f"Actor_{actor:02d}" / f"{name}.{extension}", samples, sampling_rate
                        )
    return root


CREMA_CODES = {
    "ANG": "angry",
    "DIS": "disgust",
    "FEA": "fearful",
    "HAP": "happy",
    "NEU": "neutral",
    "SAD": "sad",
}


def make_crema_d_tree(
    root: Path,
    *,
    actors=(1001, 1002, 1003, 1004, 1005, 1006),
    sentences=("IEO", "TIE"),
    levels=("MD", "HI"),
    sampling_rate: int = 16_000,
    seconds: float = 0.6,
    demographics: bool = True,
    summary: bool = True,
) -> Path:
    """A CREMA-D folder ``root/AudioWAV/AAAA_SSS_EEE_LL.wav`` with its two CSV tables."""
    audio_dir = root / "AudioWAV"
    rows = []
    for actor in actors:
        for sentence in sentences:
            for code, emotion in CREMA_CODES.items():
                for level in levels if code != "NEU" else ("XX",):
                    name = f"{actor}_{sentence}_{code}_{level}"
                    seed = hash(name) % 2**32
                    samples = emotion_signal(
                        emotion, seconds, sampling_rate, speaker_shift=1 + 0.02 * (actor % 7), seed=seed
                    )
                    write_audio(audio_dir / f"{name}.wav", samples, sampling_rate)
                    # The crowd agrees with the actor, except on SAD, heard as neutral.
                    vote = "N" if code == "SAD" and sentence == sentences[0] else code[0]
                    rows.append((name, vote, {"LO": 30, "MD": 50, "HI": 80, "XX": 45}[level]))
    if demographics:
        with open(root / "VideoDemographics.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["ActorID", "Age", "Sex", "Race", "Ethnicity"])
            for actor in actors:
                writer.writerow(
                    [actor, 30, "Female" if actor % 2 == 0 else "Male", "Caucasian", "Not Hispanic"]
                )
    if summary:
        with open(root / "summaryTable.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(
                [
                    "",
                    "FileName",
                    "VoiceVote",
                    "VoiceLevel",
                    "FaceVote",
                    "FaceLevel",
                    "MultiModalVote",
                    "MultiModalLevel",
                ]
            )
            for i, (name, vote, level) in enumerate(rows):
                writer.writerow([i + 1, name, vote, level, vote, level, vote, level])
    return root


def voiced_signal(
    seconds: float = 1.5, sampling_rate: int = 16_000, *, pitch: float = 150.0, seed: int = 0
) -> np.ndarray:
    """A vowel-like voice: harmonics of ``pitch`` (with a slow vibrato) shaped by formants at 500, 1500 and
    2500 Hz, in syllables of about 200 ms, with a little noise; nothing above 5 kHz."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sampling_rate)) / sampling_rate
    f0 = pitch * (1 + 0.03 * np.sin(2 * np.pi * 4.0 * t))
    phase = 2 * np.pi * np.cumsum(f0) / sampling_rate
    voice = np.zeros_like(t)
    for k in range(1, int(min(5000, sampling_rate / 2) / pitch)):
        frequency = k * pitch
        envelope = sum(1 / (1 + ((frequency - f) / 120) ** 2) for f in (500, 1500, 2500)) / k**0.5
        voice += envelope * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
    syllables = np.clip(np.sin(2 * np.pi * 2.5 * t), 0, None) ** 0.5
    signal = syllables * voice / np.abs(voice).max() + 0.003 * rng.standard_normal(t.shape)
    return (0.3 * signal).astype(np.float32)
