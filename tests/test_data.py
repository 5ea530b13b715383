"""Audio decoding, corpus loaders, proxy targets, speaker splits and metrics."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import numpy as np
import pytest
import soundfile as sf

from hf_emotion.audio import AudioDecodeError, audio_info, decode_audio, stream_audio_blocks
from hf_emotion.corpora import (
    decode_dataset,
    load_audio_dataset,
    load_corpora,
    load_crema_d,
    load_ravdess,
    parse_crema_d_name,
    parse_ravdess_name,
)
from hf_emotion.labels import EMOTIONS
from hf_emotion.metrics import (
    ccc,
    classification_metrics,
    regression_metrics,
    speaker_normalized_probe,
    standardize_per_speaker,
    summarize_folds,
)
from hf_emotion.splits import Split, apply_split, make_split, speaker_folds, speaker_genders
from hf_emotion.targets import CIRCUMPLEX, valence_arousal_targets
from tests.conftest import real_data_dir
from tests.synth import emotion_signal, make_ravdess_tree, write_audio

# --------------------------------------------------------------------------- audio


@pytest.mark.parametrize(
    "subtype,extension,rate,channels",
    [
        ("PCM_16", "wav", 16000, 1),
        ("PCM_24", "wav", 48000, 2),
        ("FLOAT", "wav", 22050, 1),
        ("PCM_U8", "wav", 8000, 2),
        ("PCM_16", "flac", 44100, 1),
        ("VORBIS", "ogg", 32000, 1),
        ("MPEG_LAYER_III", "mp3", 44100, 2),
    ],
)
def test_decode_any_format_to_mono_16k(tmp_path, subtype, extension, rate, channels):
    seconds = 0.5
    tone = emotion_signal("happy", seconds, rate)
    samples = np.stack([tone] * channels, axis=1) if channels > 1 else tone
    path = write_audio(tmp_path / f"clip.{extension}", samples, rate, subtype=subtype)
    out = decode_audio(path, 16000)
    assert out.dtype == np.float32 and out.ndim == 1
    # MP3 encoders add a little padding at both ends.
    assert abs(out.shape[0] - 8000) <= (2500 if extension == "mp3" else 2)
    assert 0.05 < np.abs(out).max() <= 1.0


def test_decode_arrays_int_and_channels_first():
    tone = emotion_signal("sad", 1.0, 8000)
    as_int = (tone * 32767).astype(np.int16)
    stereo_first = np.stack([as_int, as_int])  # (channels, frames)
    out = decode_audio(stereo_first, 16000, orig_sampling_rate=8000)
    assert out.shape == (16000,)
    reference = decode_audio(tone, 16000, orig_sampling_rate=8000)
    np.testing.assert_allclose(out, reference, atol=1e-3)


def test_decode_bytes(tmp_path):
    path = write_audio(tmp_path / "a.flac", emotion_signal("calm", 0.3), 16000)
    assert decode_audio(path.read_bytes(), 16000).shape == (4800,)


def _bad_files(root: Path) -> dict[str, Path]:
    root.mkdir(parents=True, exist_ok=True)
    files = {}
    files["empty"] = root / "empty.wav"
    files["empty"].write_bytes(b"")
    files["corrupt"] = root / "text.wav"
    files["corrupt"].write_text("this is not audio\n" * 20)
    good = write_audio(root / "good.wav", emotion_signal("angry", 1.0), 16000)
    truncated = root / "truncated.wav"
    truncated.write_bytes(good.read_bytes()[:30])
    files["truncated"] = truncated
    files["silent"] = write_audio(root / "silent.wav", np.zeros(8000, dtype=np.float32), 16000)
    nan = emotion_signal("angry", 0.5)
    nan[100] = np.nan
    files["non_finite"] = write_audio(root / "nan.wav", nan, 16000, subtype="FLOAT")
    return files


@pytest.mark.parametrize("kind", ["empty", "corrupt", "truncated", "silent", "non_finite"])
def test_bad_files_raise_typed_error_naming_the_file(tmp_path, kind):
    path = _bad_files(tmp_path)[kind]
    with pytest.raises(AudioDecodeError) as caught:
        decode_audio(path)
    assert str(path) in str(caught.value)
    expected = {"truncated": ("corrupt", "empty")}.get(kind, (kind,))
    assert caught.value.reason in expected


def test_missing_and_too_long(tmp_path):
    with pytest.raises(AudioDecodeError, match="file not found") as caught:
        decode_audio(tmp_path / "nope.wav")
    assert caught.value.reason == "missing"
    long_path = write_audio(tmp_path / "long.wav", np.full(16000 * 5, 0.1, dtype=np.float32), 16000)
    with pytest.raises(AudioDecodeError, match="over the limit") as caught:
        decode_audio(long_path, max_duration=2.0)
    assert caught.value.reason == "too_long"
    assert audio_info(long_path).duration == pytest.approx(5.0)


def test_silence_allowed_when_asked(tmp_path):
    path = write_audio(tmp_path / "s.wav", np.zeros(1600, dtype=np.float32), 16000)
    assert decode_audio(path, allow_silence=True).shape == (1600,)


def test_stream_blocks_match_whole_decode(tmp_path):
    signal = np.concatenate([emotion_signal(e, 1.0, 44100, seed=i) for i, e in enumerate(EMOTIONS)])
    path = write_audio(tmp_path / "long.wav", signal, 44100)
    blocks = list(stream_audio_blocks(path, 16000, block_seconds=1.5))
    assert all(b.shape[0] == 24000 for b in blocks[:-1])
    streamed = np.concatenate(blocks)
    whole = decode_audio(path, 16000)
    assert abs(streamed.shape[0] - whole.shape[0]) <= 2
    n = min(streamed.shape[0], whole.shape[0]) - 200
    np.testing.assert_allclose(streamed[200:n], whole[200:n], atol=2e-3)


# --------------------------------------------------------------------------- names and targets


def test_parse_ravdess_name():
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
    assert parse_ravdess_name("03-01-08-01-02-01-07.wav").gender == "male"
    for bad in (
        "03-01-09-01-01-01-01.wav",
        "03-03-01-01-01-01-01.wav",
        "03-01-01-01-01-01.wav",
        "readme.wav",
    ):
        with pytest.raises(ValueError, match=bad.split("/")[-1]):
            parse_ravdess_name(bad)


def test_parse_crema_d_name():
    assert parse_crema_d_name("1001_DFA_ANG_XX.wav")["emotion"] == "angry"
    with pytest.raises(ValueError, match="emotion"):
        parse_crema_d_name("1001_DFA_BOR_XX.wav")


def test_valence_arousal_targets():
    assert valence_arousal_targets("neutral", 1.0) == (0.0, 0.0)
    valence, arousal = valence_arousal_targets("angry", 1.0)
    assert valence == CIRCUMPLEX["angry"][0] and arousal == pytest.approx(CIRCUMPLEX["angry"][1] * 1.5)
    assert valence_arousal_targets("happy", 0.5) == CIRCUMPLEX["happy"]
    for emotion in EMOTIONS:
        for intensity in (0.0, 0.5, 1.0):
            v, a = valence_arousal_targets(emotion, intensity)
            assert -1 <= v <= 1 and -1 <= a <= 1
    with pytest.raises(KeyError, match="known"):
        valence_arousal_targets("bored")


# --------------------------------------------------------------------------- loaders


def test_load_ravdess(ravdess_dir):
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
    with pytest.raises(ValueError, match="no usable audio"):
        load_ravdess(root, channel="speech")


def test_load_crema_d_intended_and_perceived(crema_d_dir):
    ds = load_crema_d(crema_d_dir)
    assert ds.features["emotion"].names == ["neutral", "happy", "sad", "angry", "fearful", "disgust"]
    assert set(ds["gender"]) == {"female", "male"}
    perceived = load_crema_d(crema_d_dir, label_source="perceived")
    names = perceived.features["emotion"].names
    sad_heard_as_neutral = [
        names[e] for a, e in zip(perceived["audio"], perceived["emotion"], strict=True) if "_IEO_SAD_" in a
    ]
    assert sad_heard_as_neutral and set(sad_heard_as_neutral) == {"neutral"}
    # VoiceLevel 80 → intensity 0.8
    hi = [i for a, i in zip(ds["audio"], ds["intensity"], strict=True) if a.endswith("_HI.wav")]
    assert hi and all(abs(i - 0.8) < 1e-6 for i in hi)


def test_load_corpora_unifies_labels(ravdess_dir, crema_d_dir):
    both = load_corpora(["ravdess", "crema_d"], [str(ravdess_dir), str(crema_d_dir)])
    names = both.features["emotion"].names
    assert names == list(EMOTIONS)
    by_corpus = {}
    for corpus, emotion in zip(both["corpus"], both["emotion"], strict=True):
        by_corpus.setdefault(corpus, set()).add(names[emotion])
    assert by_corpus["crema_d"] == {"neutral", "happy", "sad", "angry", "fearful", "disgust"}
    assert by_corpus["ravdess"] == set(EMOTIONS)


def test_load_any_dataset_from_disk_and_csv(tmp_path, ravdess_dir):
    wavs = sorted(ravdess_dir.rglob("*.wav"))[:12]
    labels = ["anger", "happiness", "sadness"] * 4
    table = datasets.Dataset.from_dict(
        {
            "file": [str(p) for p in wavs],
            "mood": labels,
            "who": [f"s{i % 3}" for i in range(12)],
            "val": [0.1] * 12,
            "aro": [-0.2] * 12,
        }
    )
    table.save_to_disk(tmp_path / "saved")
    ds = load_audio_dataset(
        str(tmp_path / "saved"),
        audio_column="file",
        label_column="mood",
        speaker_column="who",
        valence_column="val",
        arousal_column="aro",
    )
    assert ds.features["emotion"].names == ["happy", "sad", "angry"]
    assert ds[0]["valence"] == pytest.approx(0.1) and ds[0]["arousal"] == pytest.approx(-0.2)
    assert len(set(ds["speaker"])) == 3

    csv_path = tmp_path / "clips.csv"
    rel = [str(p.relative_to(ravdess_dir.parent)) for p in wavs]
    for p in wavs:
        target = tmp_path / p.relative_to(ravdess_dir.parent)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(p.read_bytes())
    csv_path.write_text(
        "path,emotion\n" + "\n".join(f"{r},{lab}" for r, lab in zip(rel, labels, strict=True))
    )
    from_csv = load_audio_dataset(str(csv_path), audio_column="path", label_column="emotion")
    assert Path(from_csv[0]["audio"]).is_file()

    with pytest.raises(ValueError, match="The dataset has: file, mood"):
        load_audio_dataset(str(tmp_path / "saved"), audio_column="audio", label_column="mood")


def test_load_audiofolder(tmp_path):
    for label in ("angry", "happy"):
        for i in range(2):
            write_audio(tmp_path / "af" / label / f"{i}.wav", emotion_signal(label, 0.3), 16000)
    ds = load_audio_dataset(str(tmp_path / "af"))
    assert sorted(ds.features["emotion"].names) == ["angry", "happy"]
    assert all(Path(p).is_file() for p in ds["audio"])


def test_decode_dataset_reports_and_skips_bad_files_and_caches(tmp_path):
    root = make_ravdess_tree(tmp_path / "rav", actors=[1, 2], emotions=("happy", "sad"))
    (root / "Actor_01" / "03-01-05-01-01-01-01.wav").write_text("not audio at all")
    (root / "Actor_02" / "03-01-05-01-01-01-02.wav").write_bytes(b"")
    ds = load_ravdess(root)
    assert len(ds) == 10
    cache = tmp_path / "cache"
    decoded, bad = decode_dataset(ds, 16000, cache_dir=cache)
    assert len(decoded) == 8
    assert sorted(Path(b.path).name for b in bad) == ["03-01-05-01-01-01-01.wav", "03-01-05-01-01-01-02.wav"]
    assert {b.reason for b in bad} == {"corrupt", "empty"}
    assert len(decoded[0]["input_audio"]) == 9600
    cached = list(cache.glob("*.arrow"))
    assert len(cached) == 1
    stamp = cached[0].stat().st_mtime_ns
    again, bad_again = decode_dataset(ds, 16000, cache_dir=cache)
    assert cached[0].stat().st_mtime_ns == stamp  # read back, not decoded again
    assert len(again) == 8 and len(bad_again) == 2


# --------------------------------------------------------------------------- splits


def test_speaker_folds_balanced_and_disjoint(ravdess_dir):
    ds = load_ravdess(ravdess_dir)
    genders = speaker_genders(ds)
    folds = speaker_folds(genders, 4)
    assert [len(f) for f in folds] == [2, 2, 2, 2]
    assert all(sorted(genders[s] for s in fold) == ["female", "male"] for fold in folds)
    assert sorted(s for f in folds for s in f) == sorted(genders)
    for fold in range(4):
        split = make_split(ds, num_folds=4, fold=fold)
        parts = apply_split(ds, split)
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


def test_fixed_and_random_split(ravdess_dir, tmp_path, caplog):
    ds = load_ravdess(ravdess_dir)
    split = make_split(ds, test_speakers=["ravdess-01", "ravdess-02"])
    assert split.test == ["ravdess-01", "ravdess-02"] and len(split.validation) == 2
    split.check_disjoint()
    split.to_json(tmp_path / "s.json")
    assert json.loads((tmp_path / "s.json").read_text())["test"] == ["ravdess-01", "ravdess-02"]
    assert Split.from_json(tmp_path / "s.json") == split
    with pytest.raises(ValueError, match="not in the data"):
        make_split(ds, test_speakers=["nobody"])
    with caplog.at_level("WARNING"):
        random = make_split(ds, random_split=True, seed=1)
    assert "inflated" in caplog.text
    parts = apply_split(ds, random)
    assert sum(len(p) for p in parts.values()) == len(ds)
    assert set(parts["train"]["speaker"]) & set(parts["test"]["speaker"])  # the leak it warns about


# --------------------------------------------------------------------------- metrics


def test_ccc_worked_by_hand():
    # x = [1, 2, 3], y = [2, 4, 6]: means 2 and 4, var 2/3 and 8/3, cov 4/3
    # CCC = 2 * 4/3 / (2/3 + 8/3 + 4) = (8/3) / (22/3) = 8/22
    assert ccc([1, 2, 3], [2, 4, 6]) == pytest.approx(8 / 22)
    assert ccc([1, 2, 3], [1, 2, 3]) == pytest.approx(1.0)
    assert ccc([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    # negated: means 2 and -2, cov -2/3 → 2 * (-2/3) / (2/3 + 2/3 + 16) = -1/13
    assert ccc([1, 2, 3], [-1, -2, -3]) == pytest.approx(-1 / 13)
    assert ccc([1, 2, 3, 4], [1, 2, np.nan, 4]) == pytest.approx(1.0)


def test_classification_metrics_by_hand():
    y_true = [0, 0, 0, 0, 1, 1]
    y_pred = [0, 0, 0, 0, 0, 1]
    m = classification_metrics(y_true, y_pred, ["a", "b"])
    assert m["wa"] == pytest.approx(5 / 6)
    assert m["ua"] == pytest.approx((1.0 + 0.5) / 2)
    # F1(a) = 2*4/(2*4+1+0) = 8/9; F1(b) = 2*1/(2*1+0+1) = 2/3
    assert m["f1_a"] == pytest.approx(8 / 9) and m["f1_b"] == pytest.approx(2 / 3)
    assert m["macro_f1"] == pytest.approx((8 / 9 + 2 / 3) / 2)


def test_regression_metrics_and_summary():
    pred = np.array([[0.0, 1.0], [1.0, 0.0]])
    target = np.array([[0.0, 1.0], [1.0, 1.0]])
    m = regression_metrics(pred, target)
    assert m["ccc_valence"] == pytest.approx(1.0) and m["mse_arousal"] == pytest.approx(0.5)
    summary = summarize_folds([{"ua": 0.5}, {"ua": 0.7}])
    assert summary["ua"]["mean"] == pytest.approx(0.6) and summary["ua"]["std"] == pytest.approx(0.1)


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


def test_speaker_normalized_probe_removes_voice_offsets():
    """Each speaker's voice shifts every feature far more than the emotion does: standardising per
    speaker leaves the emotion, and the test speakers' own mean is what makes that possible."""
    rng = np.random.default_rng(0)
    names = ["neutral", "happy", "sad"]
    class_means = rng.normal(size=(3, 2, 6))

    def part(first_speaker: int, n_speakers: int):
        features, labels, speakers = [], [], []
        for s in range(first_speaker, first_speaker + n_speakers):
            voice = rng.normal(scale=8.0, size=(2, 6))
            for label in range(3):
                for _ in range(10):
                    features.append(voice + class_means[label] + rng.normal(scale=0.3, size=(2, 6)))
                    labels.append(label)
                    speakers.append(f"s{s}")
        return np.stack(features), np.array(labels), speakers

    parts = {"train": part(0, 8), "validation": part(8, 3), "test": part(11, 3)}
    features = {k: v[0] for k, v in parts.items()}
    labels = {k: v[1] for k, v in parts.items()}
    speakers = {k: v[2] for k, v in parts.items()}
    metrics, predictions = speaker_normalized_probe(features, labels, speakers, names)
    assert metrics["eval_spkprobe_ua"] > 0.9 and metrics["validation_spkprobe_ua"] > 0.9
    assert predictions.shape == (90,) and metrics["spkprobe_C"] > 0
    assert {"eval_spkprobe_wa", "eval_spkprobe_macro_f1", "eval_spkprobe_f1_sad"} <= set(metrics)
    # The same classifier on the raw features is lost among the voices.
    from sklearn.linear_model import LogisticRegression

    raw = LogisticRegression(max_iter=2000).fit(features["train"].reshape(240, -1), labels["train"])
    raw_ua = classification_metrics(labels["test"], raw.predict(features["test"].reshape(90, -1)), names)[
        "ua"
    ]
    assert raw_ua < metrics["eval_spkprobe_ua"] - 0.2

    standardized = standardize_per_speaker(features["test"].reshape(90, -1), speakers["test"])
    for s in set(speakers["test"]):
        rows = np.array(speakers["test"]) == s
        np.testing.assert_allclose(standardized[rows].mean(axis=0), 0, atol=1e-9)
        np.testing.assert_allclose(standardized[rows].std(axis=0), 1, atol=1e-4)
