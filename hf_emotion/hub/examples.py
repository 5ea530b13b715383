"""The demo's example clips as files: copied beside a Space or a demo with the credit their corpus asks for.

Each clip is an :class:`ExampleClip` (its file, emotion, speaker, corpus and licence); ``examples.json``
lists them beside the files. Which clips to show is :mod:`hf_emotion.hub.example_picking`'s job; this module
imports nothing heavy, as a Space serving its copied clips loads it.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import ConfigurationError

#: The folder beside a Space's ``app.py`` that holds the example clips, and the file that describes them.
EXAMPLES_DIR = "examples"
EXAMPLES_FILE = "examples.json"


@dataclass(frozen=True)
class ExampleClip:
    """One example recording and what the page says about it.

    Attributes:
        path: the audio file.
        emotion: the emotion its corpus labels it with.
        speaker: the corpus-prefixed speaker id (``ravdess-07``).
        corpus: the corpus's name on a card (``RAVDESS speech``).
        licence: the licence with its citation, as the corpus asks to be credited.
    """

    path: str
    emotion: str
    speaker: str
    corpus: str
    licence: str

    @property
    def label(self) -> str:
        """What the example button says: ``happy · RAVDESS speech, ravdess-07``."""
        return f"{self.emotion} · {self.corpus}, {self.speaker}"


def credit_line(clips: Sequence[ExampleClip]) -> str:
    """Who speaks in the examples and under which licence: one sentence per corpus."""
    by_corpus: dict[tuple[str, str], list[str]] = {}
    for clip in clips:
        speakers = by_corpus.setdefault((clip.corpus, clip.licence), [])
        if clip.speaker not in speakers:
            speakers.append(clip.speaker)
    sentences = [
        f"{corpus}, speakers {', '.join(speakers)}: {licence}."
        for (corpus, licence), speakers in by_corpus.items()
    ]
    return (
        "Recordings of this model's **test speakers**, never heard in training or model selection. "
        + " ".join(sentences)
    )


def copy_examples(clips: Sequence[ExampleClip], folder: str | os.PathLike) -> list[ExampleClip]:
    """Copy the clips into ``folder`` (named by emotion and speaker) with ``examples.json`` beside them."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    copied = []
    for number, clip in enumerate(clips, start=1):
        target = folder / f"{number:02d}-{clip.emotion}-{clip.speaker}{Path(clip.path).suffix}"
        shutil.copy2(clip.path, target)
        copied.append(ExampleClip(**{**asdict(clip), "path": target.name}))
    (folder / EXAMPLES_FILE).write_text(json.dumps([asdict(c) for c in copied], indent=2) + "\n")
    return [ExampleClip(**{**asdict(c), "path": str(folder / c.path)}) for c in copied]


def read_examples(folder: str | os.PathLike) -> list[ExampleClip]:
    """The clips ``copy_examples`` wrote into ``folder``; empty when it holds none."""
    listing = Path(folder) / EXAMPLES_FILE
    if not listing.is_file():
        return []
    try:
        entries = [ExampleClip(**entry) for entry in json.loads(listing.read_text())]
    except (ValueError, TypeError) as error:
        raise ConfigurationError(
            f"{listing}: not a list of example clips ({error}); write it again"
        ) from None
    return [ExampleClip(**{**asdict(c), "path": str(Path(folder) / c.path)}) for c in entries]
