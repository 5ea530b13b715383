"""Which example clips the demo shows: a few recordings of the model's own test speakers.

A visitor without a microphone should still see the model on real speech, and on speech it never heard: so
the examples are clips of the speakers its ``splits.json`` held out for testing (never a training or
validation speaker), read from the data folder the run used (``run_identity.json`` records it) or from the
folders given as ``--examples_from``. Only corpora whose licence lets their clips be shown with attribution
(Creative Commons, ODbL) are used; research-only corpora are left out, saying so. ``hf-emotion space`` and
``hf-emotion demo`` pick them; :mod:`hf_emotion.hub.examples` copies them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from huggingface_hub import ModelCard

from ..corpora import Licence, find_corpus, load_corpus
from ..data.splits import Split
from ..errors import ConfigurationError, MissingInputError
from ..training.run_identity import read_identity
from .examples import ExampleClip

logger = logging.getLogger(__name__)

#: How many clips the demo offers: enough to show a few emotions, few enough to read at a glance.
EXAMPLE_COUNT = 4
#: Split protocols whose ``test`` list names speakers never heard in training or model selection.
HELD_OUT_PROTOCOLS = ("speaker_folds", "fixed")
#: Emotions a first-time visitor tells apart most easily come first among the examples.
SHOWN_FIRST = ("happy", "angry", "sad", "neutral", "fearful", "surprised", "disgust", "calm")


def may_share_clips(licence: Licence) -> bool:
    """Whether a corpus's recordings may be shown to the public with attribution: open licences (Creative
    Commons, ODbL) allow it; a research agreement or registration does not."""
    return licence.name.startswith("CC ") or licence.hub_id == "odbl"


def check_examples_from(folders: Sequence[str] | None) -> None:
    """Raise :class:`MissingInputError` for a folder given as ``--examples_from`` that does not exist."""
    for folder in folders or ():
        if not os.path.isdir(folder):
            raise MissingInputError(
                f"--examples_from {folder}: no such folder; give the corpus folder the model's run used"
            )


def held_out_speakers(model_dir: str | os.PathLike) -> list[str]:
    """The model's test speakers: from its ``splits.json``, else from its card's results (a cross-validation's
    exported model carries its fold's test speakers there). Empty when none were held out (a random split,
    a final model trained on every speaker)."""
    split_file = Path(model_dir) / "splits.json"
    if split_file.is_file():
        try:
            split = Split.from_json(split_file)
        except (
            ConfigurationError
        ) as error:  # examples are a courtesy: a bad split file costs them, not the Space
            logger.warning("no real examples: %s", error)
            return []
        return list(split.test) if split.protocol in HELD_OUT_PROTOCOLS else []
    card_file = Path(model_dir) / "README.md"
    if not card_file.is_file():
        return []
    for result in ModelCard.load(card_file).data.eval_results or []:
        args = result.dataset_args or {}
        if args.get("protocol") in HELD_OUT_PROTOCOLS and args.get("test_speakers"):
            return list(args["test_speakers"])
    return []


def example_sources(
    model_dir: str | os.PathLike, examples_from: Sequence[str] | None = None
) -> list[tuple[str, str, dict]]:
    """``(dataset name, folder, loader options)`` for each corpus the run trained on, from its
    ``run_identity.json``; ``examples_from`` replaces the recorded folders, one per corpus, in order.

    Raises:
        ConfigurationError: ``examples_from`` does not give one folder per corpus of the run.
    """
    identity = read_identity(os.fspath(model_dir)) or {}
    names = list(identity.get("dataset") or [])
    folders = list(examples_from or identity.get("data_dir") or [])
    if examples_from and len(names) <= 1 and len(examples_from) == 1:
        names = names or _datasets_of_card(model_dir)[:1]
    if examples_from and len(folders) != len(names):
        raise ConfigurationError(
            f"--examples_from: {len(folders)} folder(s) for the {len(names)} corpora the model trained on "
            f"({', '.join(names) or 'none recorded beside it'}); give one folder per corpus, in that order"
        )
    options = {"channel": identity.get("ravdess_channel"), "label_source": identity.get("crema_d_labels")}
    options = {k: v for k, v in options.items() if v is not None}
    return [(name, folder, options) for name, folder in zip(names, folders, strict=False)]


def _datasets_of_card(model_dir: str | os.PathLike) -> list[str]:
    card_file = Path(model_dir) / "README.md"
    return list(ModelCard.load(card_file).data.datasets or []) if card_file.is_file() else []


def pick_clips(rows: Sequence[Mapping[str, str]], speakers: Sequence[str], count: int) -> list[dict]:
    """Up to ``count`` rows of the given speakers: one emotion each (those of :data:`SHOWN_FIRST` first), the
    speakers taken in turn; the same rows for the same input (no randomness).

    Args:
        rows: ``{"path", "emotion", "speaker", ...}`` clips.
        speakers: the speakers allowed (the model's test speakers).
        count: how many clips at most.
    """
    allowed = set(speakers)
    rank = {emotion: i for i, emotion in enumerate(SHOWN_FIRST)}
    candidates = sorted(
        (r for r in rows if r["speaker"] in allowed),
        key=lambda r: (rank.get(r["emotion"], len(rank)), r["path"]),
    )
    picked: list[dict] = []
    emotions: set[str] = set()
    order = sorted(allowed)
    for turn in range(len(candidates)):
        if len(picked) == count:
            break
        speaker = order[turn % len(order)] if order else None
        row = next(
            (r for r in candidates if r["speaker"] == speaker and r["emotion"] not in emotions),
            None,
        )
        if row is not None:
            picked.append(dict(row))
            emotions.add(row["emotion"])
    return picked


def find_examples(
    model_dir: str | os.PathLike, examples_from: Sequence[str] | None = None, *, count: int = EXAMPLE_COUNT
) -> list[ExampleClip]:
    """Clips of the model's test speakers from the data its run used (or ``examples_from``); empty, with a
    log line saying why, when there are none to show.

    Raises:
        MissingInputError: a folder given as ``examples_from`` does not exist.
        ConfigurationError: ``examples_from`` does not give one folder per corpus of the run.
    """
    check_examples_from(examples_from)
    speakers = held_out_speakers(model_dir)
    if not speakers:
        logger.info(
            "No example clips: %s names no held-out test speakers (synthetic tones instead)", model_dir
        )
        return []
    clips = []
    for name, folder, options in example_sources(model_dir, examples_from):
        corpus = find_corpus(name)
        if corpus is None or not may_share_clips(corpus.licence):
            why = "not a built-in corpus" if corpus is None else f"its licence ({corpus.licence.name})"
            logger.info(
                "No example clips from %s: %s does not let its clips be shown to the public", name, why
            )
            continue
        if not os.path.isdir(folder):
            logger.info(
                "No example clips from %s: its folder %s is not here (give --examples_from)", name, folder
            )
            continue
        clips += _corpus_rows(corpus.title, corpus.licence.terms, load_corpus(name, folder, **options))
    return [ExampleClip(**row) for row in pick_clips(clips, speakers, count)]


def _corpus_rows(title: str, terms: str, dataset) -> list[dict]:
    emotion_names = dataset.features["emotion"].names
    columns = dataset.select_columns(["audio", "emotion", "speaker"]).to_dict()
    return [
        {"path": audio, "emotion": emotion_names[e], "speaker": s, "corpus": title, "licence": terms}
        for audio, e, s in zip(columns["audio"], columns["emotion"], columns["speaker"], strict=True)
    ]
