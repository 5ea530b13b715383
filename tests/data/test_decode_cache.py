"""The decode cache holds decoded audio only: metadata always comes from the current load.

Each test loads the same audio files twice with different metadata (a speaker column added,
labels changed, CREMA-D's perceived instead of intended labels) into one cache folder, and
checks that the second decode carries the second load's metadata, not the first's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hf_emotion.corpora import load_audio_dataset, load_crema_d
from hf_emotion.data.decode_cache import decode_dataset
from tests.synth import emotion_signal, make_crema_d_tree, write_audio

METADATA = ("emotion", "speaker", "gender", "corpus", "intensity", "valence", "arousal")


def _clips_csv(root: Path, labels: list[str], speakers: list[str], *, write_clips: bool = True) -> Path:
    rows = []
    for index, (label, speaker) in enumerate(zip(labels, speakers, strict=True)):
        if write_clips:
            write_audio(root / "wav" / f"clip{index}.wav", emotion_signal("happy", 0.2, seed=index))
        rows.append(f"wav/clip{index}.wav,{label},{speaker}")
    path = root / "clips.csv"
    path.write_text("path,mood,who\n" + "\n".join(rows) + "\n")
    return path


def _assert_same_metadata(decoded, loaded) -> None:
    assert decoded.features["emotion"].names == loaded.features["emotion"].names
    for column in METADATA:
        assert decoded[column] == loaded[column], column


def test_adding_a_speaker_column_is_seen_by_the_next_decode(tmp_path):
    csv_path = _clips_csv(tmp_path, ["happy", "sad"] * 4, ["a", "a", "b", "b", "c", "c", "d", "d"])
    cache = tmp_path / "cache"
    without = load_audio_dataset(str(csv_path), audio_column="path", label_column="mood")
    first, _ = decode_dataset(without, 16000, cache_dir=cache)
    assert first["speaker"][0] == "clips.csv-clip0"

    with_speakers = load_audio_dataset(
        str(csv_path), audio_column="path", label_column="mood", speaker_column="who"
    )
    second, _ = decode_dataset(with_speakers, 16000, cache_dir=cache)
    _assert_same_metadata(second, with_speakers)
    assert sorted(set(second["speaker"])) == [f"clips.csv-{s}" for s in "abcd"]


def test_relabelled_csv_is_seen_by_the_next_decode(tmp_path):
    speakers = ["a", "b"] * 4
    csv_path = _clips_csv(tmp_path, ["happy", "sad"] * 4, speakers)
    cache = tmp_path / "cache"
    before = load_audio_dataset(str(csv_path), audio_column="path", label_column="mood", speaker_column="who")
    decode_dataset(before, 16000, cache_dir=cache)

    # New labels, and more of them than before: the stale table made class indices out of range.
    csv_path = _clips_csv(tmp_path, ["angry", "calm", "fearful", "neutral"] * 2, speakers, write_clips=False)
    after = load_audio_dataset(str(csv_path), audio_column="path", label_column="mood", speaker_column="who")
    decoded, _ = decode_dataset(after, 16000, cache_dir=cache)
    _assert_same_metadata(decoded, after)
    assert decoded.features["emotion"].names == ["neutral", "calm", "angry", "fearful"]


def test_crema_d_perceived_labels_after_intended_ones(tmp_path):
    root = make_crema_d_tree(tmp_path / "crema", actors=(1001, 1002), sentences=("IEO", "TIE"), seconds=0.2)
    cache = tmp_path / "cache"
    intended = load_crema_d(root, label_source="intended")
    decode_dataset(intended, 16000, cache_dir=cache)

    perceived = load_crema_d(root, label_source="perceived")
    assert perceived["emotion"] != intended["emotion"]  # SAD on IEO was heard as neutral
    decoded, _ = decode_dataset(perceived, 16000, cache_dir=cache)
    _assert_same_metadata(decoded, perceived)


def test_decoded_audio_is_still_read_back_from_the_cache(tmp_path):
    csv_path = _clips_csv(tmp_path, ["happy", "sad"] * 2, ["a", "a", "b", "b"])
    cache = tmp_path / "cache"
    loaded = load_audio_dataset(str(csv_path), audio_column="path", label_column="mood")
    first, _ = decode_dataset(loaded, 16000, cache_dir=cache)
    files = {p: p.stat().st_mtime_ns for p in cache.glob("*.arrow")}
    relabelled = load_audio_dataset(str(csv_path), audio_column="path", label_column="who")
    second, _ = decode_dataset(relabelled, 16000, cache_dir=cache)
    assert {p: p.stat().st_mtime_ns for p in cache.glob("*.arrow")} == files  # nothing decoded again
    np.testing.assert_array_equal(first[3]["input_audio"], second[3]["input_audio"])


def test_a_rewritten_file_is_decoded_again(tmp_path):
    rate = 8000
    csv_path = _clips_csv(tmp_path, ["happy", "sad"], ["a", "b"])
    cache = tmp_path / "cache"
    loaded = load_audio_dataset(str(csv_path), audio_column="path", label_column="mood")
    first, _ = decode_dataset(loaded, rate, cache_dir=cache)
    write_audio(tmp_path / "wav" / "clip0.wav", emotion_signal("sad", 0.4, seed=9))
    second, _ = decode_dataset(loaded, rate, cache_dir=cache)
    assert len(second[0]["input_audio"]) == 2 * len(first[0]["input_audio"])
