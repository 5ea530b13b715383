"""The demo's examples: clips of the model's own test speakers with their corpus's credit, else synthetic
tones, labelled as such (a Space or a run folder without data at hand).

The real clips are picked by :func:`hf_emotion.hub.examples.find_examples` (``hf-emotion demo``) or copied
into a Space by ``hf-emotion space``; this module shows them.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import gradio as gr
import numpy as np
import soundfile as sf

from ..hub.examples import ExampleClip, credit_line

EXAMPLE_SAMPLING_RATE = 16_000
SYNTHETIC_NOTE = (
    "Synthetic tones written when the demo started, **not speech**: no recordings of the model's test "
    "speakers were at hand. Use your own voice for a meaningful answer."
)


def synthetic_voice(pitch: float, tremolo: float, seconds: float, *, seed: int = 0) -> np.ndarray:
    """A voiced-like tone: a few harmonics of ``pitch`` Hz with a ``tremolo`` Hz amplitude swing."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * EXAMPLE_SAMPLING_RATE)) / EXAMPLE_SAMPLING_RATE
    glide = pitch * (1 + 0.05 * np.sin(2 * np.pi * 0.7 * t))  # intonation
    phase = 2 * np.pi * np.cumsum(glide) / EXAMPLE_SAMPLING_RATE
    voice = sum(np.sin(k * phase) / k for k in range(1, 6))
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * tremolo * t)
    return (0.25 * envelope * voice / 2.3 + 0.005 * rng.standard_normal(t.shape)).astype(np.float32)


def write_example_clips(folder: str | os.PathLike | None = None) -> list[str]:
    """Write the demo's synthetic example clips (WAV, 16 kHz) and return their paths.

    Example:
        >>> paths = write_example_clips()
        >>> [Path(p).name for p in paths]
        ['low-calm-tone.wav', 'high-excited-tone.wav', 'changing-12s.wav']
    """
    folder = Path(folder or tempfile.mkdtemp(prefix="hf-emotion-examples-"))
    folder.mkdir(parents=True, exist_ok=True)
    clips = {
        "low-calm-tone.wav": synthetic_voice(120.0, 1.5, 3.0, seed=1),
        "high-excited-tone.wav": synthetic_voice(320.0, 7.0, 3.0, seed=2),
        # Calm, then excited, then a pause: long enough for a timeline.
        "changing-12s.wav": np.concatenate(
            [
                synthetic_voice(120.0, 1.5, 5.0, seed=3),
                synthetic_voice(320.0, 7.0, 5.0, seed=4),
                np.zeros(2 * EXAMPLE_SAMPLING_RATE, dtype=np.float32),
            ]
        ),
    }
    paths = []
    for name, samples in clips.items():
        sf.write(folder / name, samples, EXAMPLE_SAMPLING_RATE, subtype="PCM_16")
        paths.append(str(folder / name))
    return paths


def examples_block(
    audio: gr.Audio, clips: Sequence[ExampleClip], *, examples_dir: str | os.PathLike | None = None
) -> None:
    """The examples under the input (inside the open Blocks): the real clips with their credit, else the
    synthetic tones written into ``examples_dir``, said to be tones."""
    if clips:
        gr.Examples(
            examples=[[c.path] for c in clips],
            inputs=audio,
            label="Examples: test speakers' recordings",
            example_labels=[c.label for c in clips],
            elem_id="examples",
        )
        gr.Markdown(credit_line(clips), elem_id="examples-credit")
        return
    tones = write_example_clips(examples_dir)
    gr.Examples(
        examples=[[p] for p in tones],
        inputs=audio,
        label="Synthetic examples (tones, not speech)",
        example_labels=[f"synthetic tone: {Path(p).stem}" for p in tones],
        elem_id="examples",
    )
    gr.Markdown(SYNTHETIC_NOTE, elem_id="examples-credit")
