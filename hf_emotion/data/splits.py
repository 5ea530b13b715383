"""Speaker-independent splits: the one place fine-tuning and baselines get their folds from.

The projects this grew from split clips at random, so every test speaker was also heard
in training and accuracy came out 20-40 points higher than a new voice gets. Here the
default keeps speakers apart: speakers are dealt into ``k`` folds balanced by gender and, when
several corpora are trained on together, by corpus (so every fold tests speakers of every corpus); fold
``k`` is the test set, the next fold is the validation set (model selection, early
stopping), the rest train. The folds can also come from a file (``read_speaker_folds``), to compare with a
published protocol on its own speakers. A random clip split exists only on request, with a warning.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import datasets
import numpy as np

from ..errors import ConfigurationError

logger = logging.getLogger(__name__)

#: The keys every ``splits.json`` holds.
SPLIT_FIELDS = ("protocol", "train", "validation", "test")

# One fold tests, the next validates: two folds would leave no speaker to train on.
MIN_SPEAKER_FOLDS = 3


@dataclass
class Split:
    """The speakers (or, for a random split, the clip indices) of train/validation/test."""

    protocol: str  # "speaker_folds", "fixed" or "random"
    train: list[str]
    validation: list[str]
    test: list[str]
    fold: int | None = None
    num_folds: int | None = None
    seed: int = 0
    indices: dict[str, list[int]] | None = field(default=None, repr=False)

    def to_json(self, path: str | os.PathLike) -> None:
        payload = asdict(self)
        if payload["indices"] is None:
            payload.pop("indices")
        with open(path, "w") as handle:
            json.dump(payload, handle, indent=2)

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> Split:
        """The split a run wrote (``splits.json``).

        Raises:
            ConfigurationError: the file is not one (e.g. a ``cv_summary.json`` given by mistake).
        """
        with open(path) as handle:
            try:
                payload = json.load(handle)
            except ValueError as error:
                raise ConfigurationError(f"{path}: not a splits file, not even JSON ({error})") from None
        fields = set(SPLIT_FIELDS) | {"fold", "num_folds", "seed", "indices"}
        if not isinstance(payload, dict) or not set(SPLIT_FIELDS) <= set(payload) or set(payload) - fields:
            found = sorted(payload)[:6] if isinstance(payload, dict) else type(payload).__name__
            raise ConfigurationError(
                f"{path}: not a splits file (it needs {', '.join(SPLIT_FIELDS)}; found {found}); give the "
                "splits.json a run wrote beside its model"
            )
        return cls(**payload)

    def check_disjoint(self) -> None:
        """Raise if a speaker is in two splits (never true for a random split's clip lists)."""
        if self.protocol == "random":
            return
        sets = {"train": set(self.train), "validation": set(self.validation), "test": set(self.test)}
        for a, b in (("train", "validation"), ("train", "test"), ("validation", "test")):
            shared = sets[a] & sets[b]
            if shared:
                raise ValueError(f"speakers {sorted(shared)} are in both {a} and {b}")


def speaker_genders(dataset: datasets.Dataset) -> dict[str, str]:
    """Each speaker's gender (the first one seen), in speaker order."""
    genders: dict[str, str] = {}
    for speaker, gender in zip(dataset["speaker"], dataset["gender"], strict=True):
        genders.setdefault(speaker, gender)
    return dict(sorted(genders.items()))


def speaker_corpora(dataset: datasets.Dataset) -> dict[str, str]:
    """Each speaker's corpus (the first one seen); empty without a ``corpus`` column."""
    if "corpus" not in dataset.column_names:
        return {}
    corpora: dict[str, str] = {}
    for speaker, corpus in zip(dataset["speaker"], dataset["corpus"], strict=True):
        corpora.setdefault(speaker, corpus)
    return corpora


def speaker_folds(
    genders: Mapping[str, str],
    num_folds: int,
    seed: int | None = None,
    corpora: Mapping[str, str] | None = None,
) -> list[list[str]]:
    """Deal speakers into ``num_folds`` folds, balanced by gender and, given ``corpora``, by corpus.

    Speakers of each (corpus, gender) group are taken in sorted order (shuffled first when
    ``seed`` is given) and cut into ``num_folds`` contiguous chunks, so with RAVDESS's 24 actors
    and 6 folds, fold 0 holds actors 1-4 (two female, two male), fold 1 actors 5-8, and so on.
    Dealt by gender alone, corpus-prefixed speakers sort corpus by corpus and a fold could test
    one corpus only; dealt per corpus, each fold tests every corpus that has a speaker per fold.

    Raises:
        ValueError: fewer speakers than folds.
    """
    if num_folds < 2:
        raise ValueError(f"num_folds must be at least 2, got {num_folds}")
    if len(genders) < num_folds:
        raise ValueError(f"cannot make {num_folds} speaker folds from {len(genders)} speakers")
    folds: list[list[str]] = [[] for _ in range(num_folds)]
    rng = np.random.default_rng(seed) if seed is not None else None
    offset = 0
    corpora = corpora or {}
    strata = {s: (corpora.get(s, ""), g) for s, g in genders.items()}
    for stratum in sorted(set(strata.values())):
        group = sorted(s for s, key in strata.items() if key == stratum)
        if rng is not None:
            group = list(rng.permutation(group))
        chunks = np.array_split(np.array(group, dtype=object), num_folds)
        # Rotate which folds get the larger chunks so odd counts do not pile up in fold 0.
        for i, chunk in enumerate(chunks):
            folds[(i + offset) % num_folds].extend(chunk.tolist())
        offset += len(group) % num_folds
    return [sorted(fold) for fold in folds]


def read_speaker_folds(path: str | os.PathLike) -> list[list[str]]:
    """Speaker folds from a JSON file: a list of speaker lists, fold ``k``'s test speakers list ``k``.

    Raises:
        ValueError: one line naming the file and what to change: it cannot be read, it is not a list of
            speaker lists, it has fewer than ``MIN_SPEAKER_FOLDS`` folds, a fold is empty, or a speaker is in
            two folds. (Whether its speakers are the data's is :func:`check_folds_cover_speakers`.)
    """
    try:
        with open(path) as handle:
            folds = json.load(handle)
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"--folds_file {path}: cannot read it as JSON ({error})") from error
    if not isinstance(folds, list) or not all(
        isinstance(fold, list) and all(isinstance(s, str) for s in fold) for fold in folds
    ):
        raise ValueError(
            f'--folds_file {path}: expected a JSON list of speaker lists, e.g. [["ravdess-01", "ravdess-11"], ...]'
        )
    if len(folds) < MIN_SPEAKER_FOLDS:
        raise ValueError(
            f"--folds_file {path} has {len(folds)} fold(s); one fold tests and the next validates, "
            f"so it needs at least {MIN_SPEAKER_FOLDS}"
        )
    seen: dict[str, int] = {}
    for k, fold in enumerate(folds):
        if not fold:
            raise ValueError(f"--folds_file {path}: fold {k} is empty; give every fold at least one speaker")
        for speaker in fold:
            if speaker in seen:
                raise ValueError(
                    f"--folds_file {path}: speaker {speaker} is in folds {seen[speaker]} and {k}; "
                    "each speaker belongs to one fold"
                )
            seen[speaker] = k
    return [list(fold) for fold in folds]


def check_folds_cover_speakers(
    folds: Sequence[Sequence[str]], speakers: Sequence[str], path: str | os.PathLike
) -> None:
    """Whether the folds of ``path`` hold exactly the data's speakers: no stranger, nobody left out.

    Raises:
        ValueError: one line naming the file and the speakers that do not match.
    """
    named = {s for fold in folds for s in fold}
    present = set(speakers)

    def show(names: set[str]) -> str:
        names = sorted(names)
        return ", ".join(names[:6]) + (f", ... ({len(names)} in all)" if len(names) > 6 else "")

    if named - present:
        raise ValueError(
            f"--folds_file {path} names speakers not in the data: {show(named - present)}; "
            f"its speakers are {show(present)}"
        )
    if present - named:
        raise ValueError(
            f"--folds_file {path} puts speakers of the data in no fold: {show(present - named)}; "
            "add them to a fold (their clips would be left out)"
        )


def make_split(
    dataset: datasets.Dataset,
    *,
    num_folds: int = 6,
    fold: int = 0,
    test_speakers: Sequence[str] | None = None,
    validation_speakers: Sequence[str] | None = None,
    random_split: bool = False,
    test_size: float = 0.2,
    validation_size: float = 0.1,
    seed: int = 0,
    shuffle_speakers: bool = False,
    folds: Sequence[Sequence[str]] | None = None,
) -> Split:
    """Choose the train/validation/test split of a dataset with ``speaker``/``gender`` columns.

    Args:
        num_folds, fold: speaker folds (default); ``fold`` is the test fold and the next
            fold (cyclically) the validation fold.
        test_speakers, validation_speakers: a fixed split instead (validation defaults to
            one fold's worth of the remaining speakers).
        random_split: split clips at random (leaks speakers; logged as a warning).
        shuffle_speakers: shuffle speakers with ``seed`` before dealing folds.
        folds: the speaker folds themselves (``read_speaker_folds``) instead of dealing them; ``num_folds``
            is then their number.
    """
    genders = speaker_genders(dataset)
    if random_split:
        logger.warning(
            "Random clip split: the same speakers appear in train and test, so accuracy is inflated "
            "compared with a new voice. Use speaker folds for numbers you report."
        )
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(dataset)).tolist()
        n_test = int(round(test_size * len(order)))
        n_val = int(round(validation_size * len(order)))
        indices = {
            "test": order[:n_test],
            "validation": order[n_test : n_test + n_val],
            "train": order[n_test + n_val :],
        }
        names = dataset["speaker"]
        sets = {k: sorted({names[i] for i in v}) for k, v in indices.items()}
        return Split("random", sets["train"], sets["validation"], sets["test"], seed=seed, indices=indices)

    if test_speakers:
        unknown = sorted(set(test_speakers) - set(genders))
        if unknown:
            raise ValueError(f"--test_speakers {unknown} not in the data; speakers are: {', '.join(genders)}")
        rest = {s: g for s, g in genders.items() if s not in set(test_speakers)}
        if validation_speakers:
            validation = sorted(validation_speakers)
        else:
            # As many validation speakers as test speakers, gender-balanced.
            validation = speaker_folds(rest, max(2, round(len(rest) / len(test_speakers))))[0]
        train = sorted(s for s in rest if s not in set(validation))
        split = Split("fixed", train, validation, sorted(test_speakers), seed=seed)
    else:
        if folds is not None:
            num_folds = len(folds)
        if not 0 <= fold < num_folds:
            raise ValueError(f"--fold must be in [0, {num_folds}), got {fold}")
        if folds is None:
            folds = speaker_folds(
                genders, num_folds, seed if shuffle_speakers else None, corpora=speaker_corpora(dataset)
            )
        test = sorted(folds[fold])
        validation = sorted(folds[(fold + 1) % num_folds])
        train = sorted(s for i, f in enumerate(folds) if i not in (fold, (fold + 1) % num_folds) for s in f)
        split = Split("speaker_folds", train, validation, test, fold=fold, num_folds=num_folds, seed=seed)
    split.check_disjoint()
    return split


def apply_split(dataset: datasets.Dataset, split: Split) -> datasets.DatasetDict:
    """The dataset cut into ``train``/``validation``/``test`` by a :class:`Split`."""
    if split.indices is not None:
        return datasets.DatasetDict({k: dataset.select(v) for k, v in split.indices.items()})
    speakers = dataset["speaker"]
    parts = {}
    for name in ("train", "validation", "test"):
        members = set(getattr(split, name))
        parts[name] = dataset.select([i for i, s in enumerate(speakers) if s in members])
    return datasets.DatasetDict(parts)
