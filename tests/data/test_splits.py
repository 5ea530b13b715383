"""hf_emotion.data.splits: speaker-independent folds and fixed or random splits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hf_emotion.corpora import load_ravdess
from hf_emotion.data.splits import (
    Split,
    apply_split,
    check_folds_cover_speakers,
    make_split,
    read_speaker_folds,
    speaker_folds,
    speaker_genders,
)


def test_speaker_folds_balance_gender_and_cover_every_speaker(ravdess_dir):
    genders = speaker_genders(load_ravdess(ravdess_dir))
    folds = speaker_folds(genders, 4)
    assert [len(f) for f in folds] == [2, 2, 2, 2]
    assert all(sorted(genders[s] for s in fold) == ["female", "male"] for fold in folds)
    assert sorted(s for f in folds for s in f) == sorted(genders)


@pytest.mark.parametrize("fold", range(4))
def test_fold_split_keeps_speakers_apart_and_loses_no_clip(ravdess_dir, fold):
    ds = load_ravdess(ravdess_dir)
    folds = speaker_folds(speaker_genders(ds), 4)
    parts = apply_split(ds, make_split(ds, num_folds=4, fold=fold))
    seen = {name: set(parts[name]["speaker"]) for name in parts}
    assert not seen["train"] & seen["test"] and not seen["validation"] & seen["test"]
    assert not seen["train"] & seen["validation"]
    assert sum(len(p) for p in parts.values()) == len(ds)
    assert seen["test"] == set(folds[fold])


def test_ravdess_default_six_folds_of_four_actors():
    genders = {f"ravdess-{i:02d}": ("male" if i % 2 else "female") for i in range(1, 25)}
    folds = speaker_folds(genders, 6)
    assert folds[0] == ["ravdess-01", "ravdess-02", "ravdess-03", "ravdess-04"]
    assert all(len(f) == 4 for f in folds)


def test_fixed_split_keeps_the_given_test_speakers(ravdess_dir):
    split = make_split(load_ravdess(ravdess_dir), test_speakers=["ravdess-01", "ravdess-02"])
    assert split.test == ["ravdess-01", "ravdess-02"] and len(split.validation) == 2
    split.check_disjoint()


def test_split_json_round_trip(ravdess_dir, tmp_path):
    split = make_split(load_ravdess(ravdess_dir), test_speakers=["ravdess-01", "ravdess-02"])
    split.to_json(tmp_path / "s.json")
    assert json.loads((tmp_path / "s.json").read_text())["test"] == ["ravdess-01", "ravdess-02"]
    assert Split.from_json(tmp_path / "s.json") == split


def test_unknown_test_speaker_is_refused(ravdess_dir):
    with pytest.raises(ValueError, match="not in the data"):
        make_split(load_ravdess(ravdess_dir), test_speakers=["nobody"])


def test_random_split_warns_and_leaks_speakers(ravdess_dir, caplog):
    ds = load_ravdess(ravdess_dir)
    with caplog.at_level("WARNING"):
        random = make_split(ds, random_split=True, seed=1)
    assert "inflated" in caplog.text
    parts = apply_split(ds, random)
    assert sum(len(p) for p in parts.values()) == len(ds)
    assert set(parts["train"]["speaker"]) & set(parts["test"]["speaker"])  # the leak it warns about


EMOBOX_RAVDESS = Path(__file__).resolve().parents[2] / "configs" / "folds" / "emobox-ravdess.json"


def test_folds_from_a_file_test_each_list_and_validate_on_the_next(ravdess_dir):
    ds = load_ravdess(ravdess_dir)
    folds = [["ravdess-01", "ravdess-08"], ["ravdess-05", "ravdess-02"], ["ravdess-03", "ravdess-04"]]
    folds.append(["ravdess-06", "ravdess-07"])
    for k in range(4):
        split = make_split(ds, folds=folds, fold=k)
        assert split.test == sorted(folds[k]) and split.validation == sorted(folds[(k + 1) % 4])
        assert split.num_folds == 4 and set(split.train) == {s for f in folds for s in f} - {
            *folds[k],
            *folds[(k + 1) % 4],
        }


def _folds_file(tmp_path, text: str) -> Path:
    path = tmp_path / "folds.json"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[", "cannot read it as JSON"),
        ('{"0": ["a"]}', "expected a JSON list of speaker lists"),
        ('[["a"], "b", ["c"]]', "expected a JSON list of speaker lists"),
        (
            '[["a"], ["b"]]',
            "has 2 fold\\(s\\); one fold tests and the next validates, so it needs at least 3",
        ),
        ('[["a"], [], ["c"]]', "fold 1 is empty"),
        ('[["a", "b"], ["c"], ["b"]]', "speaker b is in folds 0 and 2; each speaker belongs to one fold"),
    ],
)
def test_a_malformed_folds_file_is_refused_in_one_line(tmp_path, text, message):
    path = _folds_file(tmp_path, text)
    with pytest.raises(ValueError, match=message) as error:
        read_speaker_folds(path)
    assert str(error.value).startswith(f"--folds_file {path}") and "\n" not in str(error.value)


def test_folds_must_hold_exactly_the_data_speakers(tmp_path):
    folds = [["a"], ["b"], ["c"]]
    check_folds_cover_speakers(folds, ["a", "b", "c"], "f.json")
    with pytest.raises(ValueError, match="names speakers not in the data: c; its speakers are a, b, d"):
        check_folds_cover_speakers(folds, ["a", "b", "d"], "f.json")
    with pytest.raises(ValueError, match="puts speakers of the data in no fold: d; add them to a fold"):
        check_folds_cover_speakers(folds, ["a", "b", "c", "d"], "f.json")


def test_emobox_ravdess_folds_hold_the_24_actors_once():
    folds = read_speaker_folds(EMOBOX_RAVDESS)
    check_folds_cover_speakers(folds, [f"ravdess-{i:02d}" for i in range(1, 25)], EMOBOX_RAVDESS)
    assert [sorted(int(s[-2:]) for s in fold) for fold in folds] == [
        [1, 11, 20, 21],
        [4, 10, 12, 14],
        [8, 9, 19, 23],
        [3, 5, 7, 24],
        [2, 15, 16, 18],
        [6, 13, 17, 22],
    ]
