"""hf_emotion.data.splits: speaker-independent folds and fixed or random splits."""

from __future__ import annotations

import json

import pytest

from hf_emotion.corpora import load_ravdess
from hf_emotion.data.splits import Split, apply_split, make_split, speaker_folds, speaker_genders


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
