"""Corpora by ``--dataset`` name: a built-in corpus through the registry, anything else as a generic dataset.

Several corpora load into one dataset whose ``emotion`` ClassLabel holds the union of their labels.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Sequence

import datasets

from ..data.labels import ordered_labels
from ..errors import ConfigurationError, UserError
from .cache import cached_dataset_dir
from .generic import is_generic_dataset, load_audio_dataset
from .registry import BUILTIN_CORPORA, find_corpus

#: load_corpus's options read by built-in corpora only: not passed on to a generic dataset.
BUILTIN_OPTIONS = ("channel", "label_source")


def load_corpus(name: str, data_dir: str | None = None, **kwargs) -> datasets.Dataset:
    """Load one corpus by name: a built-in corpus from ``data_dir``, or any dataset id/path.

    Raises:
        ConfigurationError: ``name`` is a near miss of a built-in corpus (``ravdes``), or neither a
            built-in corpus nor a generic dataset that can be read.
        MissingInputError: the folder of a built-in corpus is missing.
    """
    corpus = find_corpus(name)
    if corpus is not None:  # without --data_dir: its download in the cache, fetched the first time
        return corpus.load(name, data_dir or cached_dataset_dir(name), kwargs)
    source = data_dir or name
    check_generic_dataset(name, source)
    generic = {k: v for k, v in kwargs.items() if k not in BUILTIN_OPTIONS}
    if os.path.exists(source):
        return load_audio_dataset(source, **generic)
    try:  # a Hub id: needs the network
        return load_audio_dataset(source, **generic)
    except UserError:  # the dataset loaded, its columns are wrong: said by load_audio_dataset
        raise
    except Exception as error:  # offline, no such repository, gated: all say the same to the user
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigurationError(
            f"--dataset {name}: not a built-in corpus ({', '.join(BUILTIN_CORPORA)}) nor a local file or folder, "
            f"and the Hub could not load it: {first_line}"
        ) from error


def _builtin_near_miss(name: str) -> str | None:
    """The built-in corpus ``name`` is a misspelling of (``ravdes``, ``CREMA-D``, ``ravdess-speech``)."""
    squeeze = {corpus.replace("_", ""): corpus for corpus in BUILTIN_CORPORA}
    key = name.strip().lower().replace("-", "").replace("_", "").replace(" ", "")
    match = difflib.get_close_matches(key, list(squeeze), n=1, cutoff=0.8)
    return squeeze[match[0]] if match else None


def check_generic_dataset(name: str, source: str) -> None:
    """Refuse a ``--dataset`` that is neither built in nor a dataset that can be read as generic.

    Raises:
        ConfigurationError: a near miss of a built-in name, a folder with no dataset layout, or a
            name that cannot be a Hub id; each lists the built-in corpora.
    """
    builtins = ", ".join(BUILTIN_CORPORA)
    near = None if os.path.exists(name) else _builtin_near_miss(name)
    if near:
        raise ConfigurationError(
            f"--dataset {name}: not a built-in corpus ({builtins}); did you mean --dataset {near}?"
        )
    if os.path.exists(source):
        if not is_generic_dataset(source):
            raise ConfigurationError(
                f"--dataset {name}: not a built-in corpus ({builtins}), and {source} is not a generic dataset "
                "(a CSV/TSV of audio paths and labels, a save_to_disk folder, or an audiofolder: audio files in "
                "one sub-folder per label or listed in metadata.csv)"
            )
        return
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(source)
    except HFValidationError:
        raise ConfigurationError(
            f"--dataset {name}: not a built-in corpus ({builtins}) and {source} is not a file, a folder or a "
            "Hub dataset id"
        ) from None


def load_corpora(names: Sequence[str], data_dirs: Sequence[str | None], **kwargs) -> datasets.Dataset:
    """Load and concatenate corpora; labels unify onto one ClassLabel holding only present names."""
    if len(data_dirs) not in (len(names), 0):
        raise ConfigurationError(
            f"got {len(names)} --dataset value(s) but {len(data_dirs)} --data_dir; give one --data_dir per "
            "--dataset, in the same order"
        )
    parts = [load_corpus(name, data_dirs[i] if data_dirs else None, **kwargs) for i, name in enumerate(names)]
    check_no_clip_twice(names, data_dirs, parts)
    return unify_labels(parts)


def check_no_clip_twice(
    names: Sequence[str], data_dirs: Sequence[str | None], parts: Sequence[datasets.Dataset]
) -> None:
    """Refuse corpora that share clips (the same ``--dataset`` and folder twice, ``ravdess`` beside
    ``ravdess_speech`` of one folder, a folder and its sub-folder): each shared clip would count twice, in
    training and in every score.

    Raises:
        ConfigurationError: naming the two ``--dataset`` (and ``--data_dir``) and a clip they share.
    """

    def given(index: int) -> str:
        folder = data_dirs[index] if data_dirs else None
        return f"--dataset {names[index]}" + (f" (--data_dir {folder})" if folder else "")

    first_part: dict[str, int] = {}
    for index, part in enumerate(parts):
        for clip in part["audio"]:
            earlier = first_part.setdefault(os.path.realpath(clip), index)
            if earlier != index:
                raise ConfigurationError(
                    f"{given(earlier)} and {given(index)} hold the same clips ({clip}, ...): each would count "
                    "twice; give each corpus folder once"
                )


def _relabel(batch, mapping: dict[int, int]):
    return {"emotion": [mapping[i] for i in batch["emotion"]]}


def unify_labels(parts: Sequence[datasets.Dataset]) -> datasets.Dataset:
    """Concatenate datasets whose ``emotion`` ClassLabels differ, onto the union of their labels."""
    names = ordered_labels({n for part in parts for n in part.features["emotion"].names})
    recast = []
    for part in parts:
        old = part.features["emotion"].names
        if old != names:
            mapping = {i: names.index(n) for i, n in enumerate(old)}
            features = part.features.copy()
            features["emotion"] = datasets.ClassLabel(names=names)
            part = part.map(_relabel, batched=True, features=features, fn_kwargs={"mapping": mapping})
        recast.append(part)
    return recast[0] if len(recast) == 1 else datasets.concatenate_datasets(recast)
