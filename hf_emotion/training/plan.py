"""A training run's plan, checked before anything is decoded or loaded.

Folds are dealt from the clips' speakers, which the loaders read from file names and
tables in seconds; decoding the audio and loading the model take minutes. So everything
that makes a run impossible (more folds than speakers, a split left without clips, a
training set with one emotion, a ``--fold`` out of range, a test speaker not in the data, a
``--folds_file`` whose speakers are not the data's) is
found here first and reported as one :class:`~hf_emotion.errors.ConfigurationError` naming
the argument to change, instead of a traceback from inside torch an hour later.

The splits are made by :func:`hf_emotion.data.splits.make_split`, the function the run itself
uses, so the plan checked is the plan run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import datasets

from ..data.splits import MIN_SPEAKER_FOLDS, Split, check_folds_cover_speakers, make_split, read_speaker_folds
from ..errors import ConfigurationError

PARTS = ("train", "validation", "test")
# TrainingArguments' own default, used when --save_steps is left unset.
TRANSFORMERS_SAVE_STEPS = 500


def _show(names: Iterable[str], limit: int = 6) -> str:
    names = sorted(names)
    return ", ".join(names[:limit]) + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def check_speakers_for_folds(
    speakers: Sequence[str], num_folds: int, fold: int, folds_run: Sequence[int]
) -> None:
    """Whether ``num_folds`` speaker folds can be dealt from these speakers.

    Args:
        speakers: the distinct speakers of the data.
        num_folds: ``--num_folds``.
        fold: ``--fold``.
        folds_run: the folds this run trains (all of them with ``--cross_validation``).

    Raises:
        ConfigurationError: naming ``--num_folds``, ``--fold`` or the missing speaker column.
    """
    if len(speakers) < MIN_SPEAKER_FOLDS:
        raise ConfigurationError(
            f"the data has {len(speakers)} speaker(s) ({_show(speakers)}); speaker-independent folds need at least "
            f"{MIN_SPEAKER_FOLDS} (train, validation, test): pass --speaker_column_name if the table has a speaker "
            "column, or --random_split (speakers then leak into the test set)"
        )
    if num_folds < MIN_SPEAKER_FOLDS:
        raise ConfigurationError(
            f"--num_folds {num_folds} leaves no training speakers (one fold tests, the next validates); "
            f"use --num_folds {MIN_SPEAKER_FOLDS} or more"
        )
    if num_folds > len(speakers):
        raise ConfigurationError(
            f"--num_folds {num_folds} is more than the {len(speakers)} speakers in the data; "
            f"use --num_folds between {MIN_SPEAKER_FOLDS} and {len(speakers)}"
        )
    if not all(0 <= k < num_folds for k in (fold, *folds_run)):
        raise ConfigurationError(f"--fold {fold} is out of range: folds are numbered 0 to {num_folds - 1}")


def split_problem(split: Split, speakers: Sequence[str], labels: Sequence[str]) -> str | None:
    """What makes this split unusable for training and evaluation, or ``None``.

    Args:
        split: the split (speaker lists, or clip indices for a random split).
        speakers, labels: each clip's speaker and emotion name, row-aligned.
    """
    where = "" if split.fold is None else f"fold {split.fold}: "
    for part in PARTS:
        if split.indices is not None:
            rows = split.indices[part]
        else:
            members = set(getattr(split, part))
            rows = [i for i, speaker in enumerate(speakers) if speaker in members]
        if not rows:
            return (
                f"{where}the {part} split has no clips (speakers: {_show(getattr(split, part)) or 'none'}); "
                "use fewer --num_folds, other --test_speakers/--validation_speakers, or more data"
            )
        if part == "train":
            classes = {labels[i] for i in rows}
            if len(classes) < 2:
                return (
                    f"{where}the training clips all have one emotion ({_show(classes)}); a classifier needs at "
                    "least two: check --label_column_name or add data"
                )
    return None


def check_training_plan(dataset: datasets.Dataset, args: Any, *, seed: int = 0) -> list[Split]:
    """Every split the run will make, checked.

    Args:
        dataset: the loaded, not yet decoded, corpora (``speaker``, ``gender``, ``emotion``).
        args: finetune.py's ``DataArguments`` (or any object with the same split fields:
            ``num_folds``, ``fold``, ``cross_validation``, ``test_speakers``,
            ``validation_speakers``, ``random_split``, ``folds_file``; missing ones take their defaults).
        seed: the run's seed (a random split depends on it).

    Returns:
        The splits, one per fold run.

    Raises:
        ConfigurationError: one line naming the argument to change.
    """
    num_folds, fold = args.num_folds, getattr(args, "fold", 0)
    test_speakers = getattr(args, "test_speakers", None) or None
    validation_speakers = getattr(args, "validation_speakers", None) or None
    random_split = getattr(args, "random_split", False)
    folds_file = getattr(args, "folds_file", None)
    label_feature = dataset.features["emotion"]
    labels = [label_feature.int2str(i) for i in dataset["emotion"]]
    if len(set(labels)) < 2:
        raise ConfigurationError(
            f"the data has one emotion only ({labels[0]}); check --label_column_name or the --dataset folders"
        )
    speakers = list(dataset["speaker"])
    distinct = sorted(set(speakers))
    folds_run = list(range(num_folds)) if getattr(args, "cross_validation", False) else [fold]
    if random_split and test_speakers:  # make_split would deal clips at random and drop the speakers unsaid
        raise ConfigurationError(
            "--random_split deals clips at random and --test_speakers fixes the test speakers: give one of them"
        )
    if validation_speakers and not test_speakers:
        raise ConfigurationError(
            "--validation_speakers needs --test_speakers (folds choose their own validation)"
        )
    for flag, chosen in (("--test_speakers", test_speakers), ("--validation_speakers", validation_speakers)):
        unknown = sorted(set(chosen or ()) - set(distinct))
        if unknown:
            raise ConfigurationError(
                f"{flag} {_show(unknown)} not in the data; its speakers are {_show(distinct)}"
            )
    folds = None
    if folds_file:
        try:
            folds = read_speaker_folds(folds_file)
            check_folds_cover_speakers(folds, distinct, folds_file)
        except ValueError as error:
            raise ConfigurationError(str(error)) from error
        num_folds = len(folds)
        folds_run = list(range(num_folds)) if getattr(args, "cross_validation", False) else [fold]
    if not (random_split or test_speakers):
        check_speakers_for_folds(distinct, num_folds, fold, folds_run)
    splits = []
    for k in folds_run[:1] if random_split or test_speakers else folds_run:
        try:
            split = make_split(
                dataset,
                num_folds=num_folds,
                fold=k,
                test_speakers=test_speakers,
                validation_speakers=validation_speakers,
                random_split=random_split,
                seed=seed,
                folds=folds,
            )
        except ValueError as error:  # a fixed split that overlaps, folds that cannot be dealt
            raise ConfigurationError(str(error)) from error
        problem = split_problem(split, speakers, labels)
        if problem:
            raise ConfigurationError(problem)
        splits.append(split)
    return splits


def checkpoint_schedule(
    save_strategy: str | None,
    save_steps: float | None,
    eval_strategy: str | None,
    eval_steps: float | None,
) -> tuple[str, float, str, float | None]:
    """When to save and evaluate, for the strategies and steps the user left unset (``None``).

    ``--save_steps N`` alone means saving every N steps (transformers would keep saving per
    epoch and ignore N without a word), and evaluation follows saving, every N steps too,
    because keeping the best checkpoint needs a validation score at each save.

    Returns:
        ``(save_strategy, save_steps, eval_strategy, eval_steps)``.

    Raises:
        ConfigurationError: ``--save_steps`` together with a ``--save_strategy`` that ignores it.
    """
    # (500, the default, is also what a re-run of __post_init__ on finished arguments sees: not a conflict.)
    if save_steps not in (None, TRANSFORMERS_SAVE_STEPS) and save_strategy not in (None, "steps"):
        raise ConfigurationError(
            f"--save_steps {save_steps:g} is only used with --save_strategy steps, not {save_strategy}; drop one of them"
        )
    if save_strategy is None:
        save_strategy = "steps" if save_steps is not None else "epoch"
    save_steps = TRANSFORMERS_SAVE_STEPS if save_steps is None else save_steps
    if eval_strategy is None:
        eval_strategy = "steps" if save_strategy == "steps" else "epoch"
        if eval_strategy == "steps" and eval_steps is None:
            eval_steps = save_steps
    return save_strategy, save_steps, eval_strategy, eval_steps
