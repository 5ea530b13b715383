"""The pre-flight plan check: every split a run will make, checked on metadata alone."""

from __future__ import annotations

import json
from types import SimpleNamespace

import datasets
import pytest

from hf_emotion.data.splits import make_split
from hf_emotion.errors import ConfigurationError
from hf_emotion.training.arguments import EmotionTrainingArguments
from hf_emotion.training.plan import check_training_plan, checkpoint_schedule


def clips(speakers: dict[str, list[str]], genders: dict[str, str] | None = None) -> datasets.Dataset:
    """A metadata-only dataset: ``speaker -> the emotions of their clips``."""
    names = sorted({e for emotions in speakers.values() for e in emotions})
    rows = [(s, e) for s, emotions in speakers.items() for e in emotions]
    genders = genders or {s: ("female" if i % 2 else "male") for i, s in enumerate(speakers)}
    return datasets.Dataset.from_dict(
        {
            "speaker": [s for s, _ in rows],
            "gender": [genders[s] for s, _ in rows],
            "emotion": [names.index(e) for _, e in rows],
        },
        features=datasets.Features(
            {
                "speaker": datasets.Value("string"),
                "gender": datasets.Value("string"),
                "emotion": datasets.ClassLabel(names=names),
            }
        ),
    )


def plan(num_folds=4, **overrides):
    return SimpleNamespace(
        num_folds=num_folds,
        fold=overrides.pop("fold", 0),
        cross_validation=overrides.pop("cross_validation", False),
        test_speakers=overrides.pop("test_speakers", []),
        validation_speakers=overrides.pop("validation_speakers", []),
        random_split=overrides.pop("random_split", False),
        folds_file=overrides.pop("folds_file", None),
    )


EIGHT = clips({f"s{i}": ["happy", "sad"] for i in range(8)})


def test_the_plan_checked_is_the_split_the_run_makes():
    splits = check_training_plan(EIGHT, plan(4, cross_validation=True))
    assert [s.test for s in splits] == [make_split(EIGHT, num_folds=4, fold=k).test for k in range(4)]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (plan(2), "--num_folds 2 leaves no training speakers"),
        (plan(9), "--num_folds 9 is more than the 8 speakers in the data; use --num_folds between 3 and 8"),
        (plan(4, fold=4), "--fold 4 is out of range: folds are numbered 0 to 3"),
        (plan(4, test_speakers=["s1", "nobody"]), "--test_speakers nobody not in the data"),
        (plan(4, validation_speakers=["s1"]), "--validation_speakers needs --test_speakers"),
        (plan(4, random_split=True, test_speakers=["s1"]), "--random_split deals clips at random"),
    ],
)
def test_impossible_folds_name_the_argument_to_change(arguments, message):
    with pytest.raises(ConfigurationError, match=message):
        check_training_plan(EIGHT, arguments)


def _folds_file(tmp_path, folds) -> str:
    path = tmp_path / "folds.json"
    path.write_text(json.dumps(folds))
    return str(path)


def test_a_folds_file_sets_every_fold_of_the_plan(tmp_path):
    folds = [["s0", "s7"], ["s1", "s6"], ["s2", "s5"], ["s3", "s4"]]
    splits = check_training_plan(
        EIGHT, plan(6, cross_validation=True, folds_file=_folds_file(tmp_path, folds))
    )
    assert [s.test for s in splits] == [sorted(f) for f in folds]  # four folds, whatever --num_folds said
    assert [s.validation for s in splits] == [sorted(folds[(k + 1) % 4]) for k in range(4)]


@pytest.mark.parametrize(
    ("folds", "fold", "message"),
    [
        (
            [["s0", "s1", "s2"], ["s3", "s4"], ["s5", "s6", "nobody"]],
            0,
            "names speakers not in the data: nobody",
        ),
        ([["s0", "s1", "s2"], ["s3", "s4"], ["s5", "s6"]], 0, "puts speakers of the data in no fold: s7"),
        ([["s0", "s1", "s2"], ["s3", "s4"], ["s5", "s6", "s7"]], 3, "--fold 3 is out of range"),
    ],
)
def test_a_folds_file_that_does_not_fit_the_data_is_refused(tmp_path, folds, fold, message):
    with pytest.raises(ConfigurationError, match=message):
        check_training_plan(EIGHT, plan(fold=fold, folds_file=_folds_file(tmp_path, folds)))


def test_one_speaker_asks_for_a_speaker_column_or_a_random_split():
    one = clips({"clips.csv": ["happy", "sad"] * 5})
    with pytest.raises(ConfigurationError, match="1 speaker.*--speaker_column_name.*--random_split"):
        check_training_plan(one, plan(3))
    assert check_training_plan(one, plan(3, random_split=True))[0].protocol == "random"


def test_a_training_split_with_one_emotion_is_refused():
    # Fold 0 tests s0+s1, validates s2+s3: the training speakers s4..s7 only ever sound happy.
    data = clips(
        {**{f"s{i}": ["happy", "sad"] for i in range(4)}, **{f"s{i}": ["happy"] for i in range(4, 8)}}
    )
    with pytest.raises(
        ConfigurationError, match="fold 0: the training clips all have one emotion \\(happy\\)"
    ):
        check_training_plan(data, plan(4))


def test_cross_validation_checks_every_fold_not_only_the_first():
    # Folds [s0 s1] [s2 s3] [s4 s5] [s6 s7]: fold 0 trains on s4-s7 (sad among them); fold 2 tests
    # s4 s5, validates s6 s7 and trains on s0-s3, who only ever sound happy.
    data = clips(
        {**{f"s{i}": ["happy"] for i in range(6)}, "s6": ["happy", "sad"], "s7": ["sad"]},
        genders={f"s{i}": "female" for i in range(8)},
    )
    check_training_plan(data, plan(4, fold=0))
    with pytest.raises(ConfigurationError, match="fold 2: the training clips all have one emotion"):
        check_training_plan(data, plan(4, cross_validation=True))


def test_data_with_one_emotion_is_refused():
    with pytest.raises(ConfigurationError, match="one emotion only \\(happy\\).*--label_column_name"):
        check_training_plan(clips({f"s{i}": ["happy"] for i in range(4)}), plan(3))


def test_a_random_split_of_too_few_clips_leaves_a_split_empty():
    with pytest.raises(ConfigurationError, match="the validation split has no clips"):
        check_training_plan(clips({"a": ["happy", "sad", "happy"]}), plan(3, random_split=True))


def test_save_steps_alone_saves_and_evaluates_by_steps():
    assert checkpoint_schedule(None, 50, None, None) == ("steps", 50, "steps", 50)
    assert checkpoint_schedule(None, None, None, None) == ("epoch", 500, "epoch", None)
    assert checkpoint_schedule(None, 50, "steps", 25) == ("steps", 50, "steps", 25)
    args = EmotionTrainingArguments(output_dir="unused", save_steps=30, report_to=[])
    assert (args.save_strategy, args.save_steps, args.eval_strategy, args.eval_steps) == (
        "steps",
        30,
        "steps",
        30,
    )


def test_save_steps_with_save_strategy_epoch_is_refused():
    with pytest.raises(ConfigurationError, match="--save_steps 50 is only used with --save_strategy steps"):
        EmotionTrainingArguments(output_dir="unused", save_strategy="epoch", save_steps=50, report_to=[])
