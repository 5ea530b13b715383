"""hf_emotion.corpora: corpus folders, tables and audio folders as `datasets.Dataset`."""

from __future__ import annotations

from pathlib import Path

import datasets
import numpy as np
import pytest
import soundfile as sf

from hf_emotion.corpora import (
    load_audio_dataset,
    load_corpora,
    load_crema_d,
    load_ravdess,
    parse_crema_d_name,
    parse_ravdess_name,
)
from hf_emotion.data.audio import decode_audio
from hf_emotion.data.decode_cache import decode_dataset
from hf_emotion.data.labels import EMOTIONS
from hf_emotion.data.splits import make_split
from tests.conftest import real_data_dir
from tests.synth import emotion_signal, make_ravdess_tree, write_audio

# --------------------------------------------------------------------------- file names


def test_ravdess_name_gives_every_field():
    name = parse_ravdess_name("Actor_12/03-02-05-02-01-02-12.flac")
    assert (name.channel, name.emotion, name.intensity, name.statement, name.repetition, name.actor) == (
        "song",
        "angry",
        1.0,
        1,
        2,
        12,
    )
    assert name.gender == "female"


def test_ravdess_odd_actor_is_male():
    assert parse_ravdess_name("03-01-08-01-02-01-07.wav").gender == "male"


@pytest.mark.parametrize(
    "bad",
    ["03-01-09-01-01-01-01.wav", "03-03-01-01-01-01-01.wav", "03-01-01-01-01-01.wav", "readme.wav"],
)
def test_ravdess_bad_name_error_names_the_file(bad):
    with pytest.raises(ValueError, match=bad):
        parse_ravdess_name(bad)


def test_crema_d_name_gives_the_emotion():
    assert parse_crema_d_name("1001_DFA_ANG_XX.wav")["emotion"] == "angry"


def test_crema_d_unknown_emotion_code_is_refused():
    with pytest.raises(ValueError, match="emotion"):
        parse_crema_d_name("1001_DFA_BOR_XX.wav")


# --------------------------------------------------------------------------- loaders


def test_load_ravdess_gives_the_standard_columns(ravdess_dir):
    ds = load_ravdess(ravdess_dir)
    assert set(ds.column_names) >= {
        "audio",
        "emotion",
        "speaker",
        "gender",
        "corpus",
        "channel",
        "intensity",
        "valence",
        "arousal",
    }
    assert len(ds) == 8 * 15
    assert ds.features["emotion"].names == list(EMOTIONS)
    assert sorted(set(ds["speaker"])) == [f"ravdess-{i:02d}" for i in range(1, 9)]
    row = ds[0]
    assert row["gender"] == "male" and row["channel"] == "speech"


def test_load_ravdess_song_any_layout_flac(tmp_path):
    root = make_ravdess_tree(tmp_path / "flat", actors=[1, 2], channel="song", extension="flac")
    # Flatten the layout: move every file up one level.
    for path in list(root.rglob("*.flac")):
        path.rename(root / path.name)
    (root / "notes.wav").write_bytes(b"")  # a name that does not parse is skipped, not loaded
    ds = load_ravdess(root, channel="both")
    assert len(ds) == 2 * 11
    assert ds.features["emotion"].names == ["neutral", "calm", "happy", "sad", "angry", "fearful"]
    assert set(ds["channel"]) == {"song"}
    assert len(load_ravdess(root, channel="song")) == 22


def test_load_ravdess_channel_with_no_files_is_refused(tmp_path):
    root = make_ravdess_tree(tmp_path / "song", actors=[1], channel="song")
    with pytest.raises(ValueError, match="no usable audio"):
        load_ravdess(root, channel="speech")


def test_load_crema_d_intended_labels_and_voice_level(crema_d_dir):
    ds = load_crema_d(crema_d_dir)
    assert ds.features["emotion"].names == ["neutral", "happy", "sad", "angry", "fearful", "disgust"]
    assert set(ds["gender"]) == {"female", "male"}
    # VoiceLevel 80 → intensity 0.8
    hi = [i for a, i in zip(ds["audio"], ds["intensity"], strict=True) if a.endswith("_HI.wav")]
    assert hi and all(abs(i - 0.8) < 1e-6 for i in hi)


def test_load_crema_d_perceived_labels_follow_the_listeners(crema_d_dir):
    perceived = load_crema_d(crema_d_dir, label_source="perceived")
    names = perceived.features["emotion"].names
    sad_heard_as_neutral = [
        names[e] for a, e in zip(perceived["audio"], perceived["emotion"], strict=True) if "_IEO_SAD_" in a
    ]
    assert sad_heard_as_neutral and set(sad_heard_as_neutral) == {"neutral"}


def test_load_corpora_unifies_labels(ravdess_dir, crema_d_dir):
    both = load_corpora(["ravdess", "crema_d"], [str(ravdess_dir), str(crema_d_dir)])
    names = both.features["emotion"].names
    assert names == list(EMOTIONS)
    by_corpus = {}
    for corpus, emotion in zip(both["corpus"], both["emotion"], strict=True):
        by_corpus.setdefault(corpus, set()).add(names[emotion])
    assert by_corpus["crema_d"] == {"neutral", "happy", "sad", "angry", "fearful", "disgust"}
    assert by_corpus["ravdess"] == set(EMOTIONS)


def _saved_table(tmp_path: Path, ravdess_dir: Path) -> Path:
    wavs = sorted(ravdess_dir.rglob("*.wav"))[:12]
    table = datasets.Dataset.from_dict(
        {
            "file": [str(p) for p in wavs],
            "mood": ["anger", "happiness", "sadness"] * 4,
            "who": [f"s{i % 3}" for i in range(12)],
            "val": [0.1] * 12,
            "aro": [-0.2] * 12,
        }
    )
    table.save_to_disk(tmp_path / "saved")
    return tmp_path / "saved"


def test_load_saved_dataset_maps_columns_and_label_synonyms(tmp_path, ravdess_dir):
    ds = load_audio_dataset(
        str(_saved_table(tmp_path, ravdess_dir)),
        audio_column="file",
        label_column="mood",
        speaker_column="who",
        valence_column="val",
        arousal_column="aro",
    )
    assert ds.features["emotion"].names == ["happy", "sad", "angry"]
    assert ds[0]["valence"] == pytest.approx(0.1) and ds[0]["arousal"] == pytest.approx(-0.2)
    assert len(set(ds["speaker"])) == 3


def test_load_dataset_missing_column_error_lists_the_columns(tmp_path, ravdess_dir):
    saved = _saved_table(tmp_path, ravdess_dir)
    with pytest.raises(ValueError, match="The dataset has: file, mood"):
        load_audio_dataset(str(saved), audio_column="audio", label_column="mood")


def test_load_csv_resolves_paths_beside_the_table(tmp_path, ravdess_dir):
    wavs = sorted(ravdess_dir.rglob("*.wav"))[:12]
    labels = ["anger", "happiness", "sadness"] * 4
    rel = [str(p.relative_to(ravdess_dir.parent)) for p in wavs]
    for p in wavs:
        target = tmp_path / p.relative_to(ravdess_dir.parent)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(p.read_bytes())
    csv_path = tmp_path / "clips.csv"
    csv_path.write_text(
        "path,emotion\n" + "\n".join(f"{r},{lab}" for r, lab in zip(rel, labels, strict=True))
    )
    from_csv = load_audio_dataset(str(csv_path), audio_column="path", label_column="emotion")
    assert Path(from_csv[0]["audio"]).is_file()


def test_load_audiofolder(tmp_path):
    for label in ("angry", "happy"):
        for i in range(2):
            write_audio(tmp_path / "af" / label / f"{i}.wav", emotion_signal(label, 0.3), 16000)
    ds = load_audio_dataset(str(tmp_path / "af"))
    assert sorted(ds.features["emotion"].names) == ["angry", "happy"]
    assert all(Path(p).is_file() for p in ds["audio"])


# --------------------------------------------------------------------------- decoding a dataset


def _ravdess_with_two_bad_files(root: Path) -> datasets.Dataset:
    make_ravdess_tree(root, actors=[1, 2], emotions=("happy", "sad"))
    (root / "Actor_01" / "03-01-05-01-01-01-01.wav").write_text("not audio at all")
    (root / "Actor_02" / "03-01-05-01-01-01-02.wav").write_bytes(b"")
    return load_ravdess(root)


def test_decode_dataset_reports_and_skips_bad_files(tmp_path):
    ds = _ravdess_with_two_bad_files(tmp_path / "rav")
    assert len(ds) == 10
    decoded, bad = decode_dataset(ds, 16000, cache_dir=tmp_path / "cache")
    assert len(decoded) == 8
    assert sorted(Path(b.path).name for b in bad) == ["03-01-05-01-01-01-01.wav", "03-01-05-01-01-01-02.wav"]
    assert {b.reason for b in bad} == {"corrupt", "empty"}
    assert len(decoded[0]["input_audio"]) == 9600


def test_decode_dataset_reads_its_cache_back_instead_of_decoding_again(tmp_path):
    ds = _ravdess_with_two_bad_files(tmp_path / "rav")
    cache = tmp_path / "cache"
    decode_dataset(ds, 16000, cache_dir=cache)
    cached = list(cache.glob("*.arrow"))
    assert len(cached) == 1
    stamp = cached[0].stat().st_mtime_ns
    again, bad_again = decode_dataset(ds, 16000, cache_dir=cache)
    assert cached[0].stat().st_mtime_ns == stamp
    assert len(again) == 8 and len(bad_again) == 2


# --------------------------------------------------------------------------- real data tier


@pytest.mark.real_data
def test_real_ravdess_speech_and_song():
    speech = load_ravdess(real_data_dir("ravdess-speech"))
    assert len(speech) == 1440 and len(set(speech["speaker"])) == 24
    counts = np.bincount(speech["emotion"])
    assert counts.tolist() == [96] + [192] * 7
    song = load_ravdess(real_data_dir("ravdess-song"))
    assert len(song) == 1012 and len(set(song["speaker"])) == 23
    for fold in range(6):
        make_split(speech, fold=fold).check_disjoint()
    x = decode_audio(speech[0]["audio"])
    assert 2.0 < x.shape[0] / 16000 < 6.0


@pytest.mark.real_data
def test_real_crema_d():
    ds = load_crema_d(real_data_dir("crema-d-subset"))
    assert len(ds) == 1880 and len(set(ds["speaker"])) == 23
    assert "unknown" not in set(ds["gender"])
    assert len(sf.info(ds[0]["audio"]).format) > 0
