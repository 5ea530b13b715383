"""Baselines: features, caching, every system through the real CLI, DEAM parsing, compare."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from hf_emotion.baselines import features as feats
from hf_emotion.baselines.features import FeatureConfig, compute_features, extract_features, fit_frames
from hf_emotion.cli import main
from hf_emotion.evaluation.metrics import ccc, regression_metrics
from tests.conftest import real_data_dir
from tests.synth import emotion_signal

TINY = {
    "rf-mfcc": ["--n_estimators", "10"],
    "mlp-spectral": ["--max_iter", "20"],
    "cnn1d": ["--epochs", "2", "--batch_size", "16"],
    "cnn2d-mel": ["--epochs", "2", "--batch_size", "16"],
    "va-rf": ["--n_estimators", "10"],
}


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("feature-cache")


def run_cli(ravdess_dir, output_dir, cache_dir, system, *extra) -> dict:
    argv = ["baseline", "--system", system, "--dataset", "ravdess_speech", "--data_dir", str(ravdess_dir)]
    argv += [
        "--output_dir",
        str(output_dir),
        "--num_folds",
        "4",
        "--n_jobs",
        "1",
        "--cache_dir",
        str(cache_dir),
    ]
    assert main(argv + TINY[system] + list(extra)) == 0
    results = Path(output_dir) / "all_results.json"
    if not results.exists():  # --cross_validation: one folder per fold
        results = Path(output_dir) / "fold_0" / "all_results.json"
    with open(results) as handle:
        return json.load(handle)


def test_feature_shapes():
    signal = emotion_signal("happy", seconds=1.0)
    out = compute_features(signal, FeatureConfig())
    assert out["rf"].shape == (80,)
    assert out["spectral"].shape == (180,)
    assert out["vector"].shape == (264,)
    assert out["va"].shape == (120,)
    assert out["logmel"].shape[0] == 128
    assert fit_frames(out["logmel"], 128).shape == (128, 128)
    assert fit_frames(np.zeros((128, 300)), 128).shape == (128, 128)
    for value in out.values():
        assert np.isfinite(np.asarray(value, dtype=np.float32)).all()


def test_features_match_librosa():
    """The shared-STFT features equal librosa's own per-feature functions."""
    import librosa

    config = FeatureConfig()
    y = emotion_signal("angry", seconds=1.0)
    out = compute_features(y, config)
    kw = dict(sr=config.sampling_rate, n_fft=config.n_fft, hop_length=config.hop_length)
    mfcc = librosa.feature.mfcc(y=y, n_mfcc=40, n_mels=128, **kw)
    np.testing.assert_allclose(out["rf"][:40], mfcc.mean(axis=1), rtol=1e-3, atol=1e-2)
    chroma = librosa.feature.chroma_stft(y=y, tuning=0.0, **kw)
    np.testing.assert_allclose(out["spectral"][40:52], chroma.mean(axis=1), rtol=1e-3, atol=1e-4)
    centroid = librosa.feature.spectral_centroid(y=y, **kw)
    np.testing.assert_allclose(out["vector"][260], centroid.mean(), rtol=1e-3)


def test_zero_crossing_rate_counts_sign_changes_without_numba():
    """Zero crossings are numpy (librosa's numba version segfaulted on fresh installs): exact counts."""
    from hf_emotion.baselines.features import zero_crossing_rate

    alternating = np.tile([1.0, -1.0], 2048)  # a sign change between every two samples
    rates = zero_crossing_rate(alternating, frame_length=512, hop_length=256)
    assert rates.shape == (1 + alternating.size // 256,)
    assert rates[4] == pytest.approx(511 / 512)  # a frame away from the edges: 511 changes in 512 samples
    nearly_zero = np.where(np.arange(4096) % 2 == 0, 1e-12, -1e-12)  # within 1e-10 of zero: no crossings
    assert not zero_crossing_rate(nearly_zero, frame_length=512, hop_length=256).any()
    sine = np.sin(2 * np.pi * 100 * np.arange(16_000) / 16_000 + 0.1)  # 100 Hz: 200 changes per second
    middle = zero_crossing_rate(sine, frame_length=2048, hop_length=512)[4:-4]
    np.testing.assert_allclose(middle, 200 / 16_000, atol=1 / 2048)


def test_features_never_call_librosas_jit_zero_crossings(monkeypatch):
    import librosa

    def crash(*args, **kwargs):
        raise AssertionError("librosa's numba zero crossings called")

    monkeypatch.setattr(librosa, "zero_crossings", crash)
    monkeypatch.setattr(librosa.feature, "zero_crossing_rate", crash)
    out = compute_features(emotion_signal("angry", seconds=1.0), FeatureConfig())
    assert 0 < out["vector"][262] < 1  # the zero-crossing rate's place in the vector


def test_feature_cache_hit(tmp_path, ravdess_dir):
    paths = sorted(str(p) for p in Path(ravdess_dir).rglob("*.wav"))[:6]
    before = dict(feats.EXTRACTION_COUNTER)
    first = extract_features(paths, n_jobs=1, cache_dir=tmp_path)
    assert feats.EXTRACTION_COUNTER["computed"] - before["computed"] == 6
    stored = sorted(tmp_path.rglob("*.npz"))
    mtimes = [p.stat().st_mtime_ns for p in stored]
    second = extract_features(paths, n_jobs=1, cache_dir=tmp_path)
    assert feats.EXTRACTION_COUNTER["computed"] - before["computed"] == 6  # nothing recomputed
    assert [p.stat().st_mtime_ns for p in stored] == mtimes
    np.testing.assert_array_equal(first.vectors["rf"], second.vectors["rf"])


def test_bad_file_is_skipped_and_named(tmp_path, ravdess_dir):
    import shutil

    corpus = tmp_path / "ravdess"
    shutil.copytree(ravdess_dir, corpus)
    bad = corpus / "Actor_01" / "03-01-02-01-01-01-01.wav"
    bad.write_bytes(b"RIFF not really audio")
    result = run_cli(corpus, tmp_path / "out", tmp_path / "cache", "rf-mfcc")
    assert [entry["path"] for entry in result["skipped_files"]] == [str(bad)]


@pytest.mark.parametrize("system", ["rf-mfcc", "mlp-spectral", "cnn1d", "cnn2d-mel", "va-rf"])
def test_system_runs_through_cli(system, tmp_path, ravdess_dir, cache_dir):
    result = run_cli(ravdess_dir, tmp_path, cache_dir, system)
    for key in ("ua", "wa", "macro_f1", "f1_neutral", "skipped_files"):
        assert key in result
    assert 0.0 <= result["ua"] <= 1.0
    assert (tmp_path / "confusion_matrix.png").stat().st_size > 0
    split = json.loads((tmp_path / "splits.json").read_text())
    assert split["protocol"] == "speaker_folds" and not set(split["train"]) & set(split["test"])
    predictions = json.loads((tmp_path / "predictions.json").read_text())
    assert len(predictions["y_true"]) == len(predictions["y_pred"]) == result["n_test"]
    assert predictions["label_names"][0] == "neutral"
    if system in ("rf-mfcc", "mlp-spectral", "va-rf"):
        assert (tmp_path / "model.skops").exists()
    else:
        assert (tmp_path / "model.safetensors").exists() and (tmp_path / "config.json").exists()
    extra_plots = {
        "rf-mfcc": ["feature_importance.png"],
        "mlp-spectral": ["loss_curve.png", "roc_curves.png", "precision_recall_curves.png"],
        "cnn1d": ["training_curves.png"],
        "cnn2d-mel": ["training_curves.png"],
        "va-rf": ["valence_arousal_scatter.png"],
    }[system]
    for name in extra_plots:
        assert (tmp_path / name).stat().st_size > 0
    if system == "mlp-spectral":
        probabilities = np.array(predictions["probabilities"])
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)
    if system == "va-rf":
        for key in ("ccc_valence", "ccc_arousal", "mse_valence", "r2_arousal"):
            assert key in result


def test_cross_validation_random_split_and_grid_search(tmp_path, ravdess_dir, cache_dir, caplog):
    run_cli(ravdess_dir, tmp_path / "cv", cache_dir, "rf-mfcc", "--cross_validation", "--balance")
    summary = json.loads((tmp_path / "cv" / "cv_summary.json").read_text())
    assert summary["summary"]["ua"]["n"] == 4
    assert all((tmp_path / "cv" / f"fold_{k}" / "all_results.json").exists() for k in range(4))
    # The synthetic emotions are separable: a speaker-independent forest must beat chance (1/8) clearly.
    assert summary["summary"]["ua"]["mean"] > 0.5

    with caplog.at_level("WARNING"):
        run_cli(ravdess_dir, tmp_path / "random", cache_dir, "rf-mfcc", "--random_split")
    assert "Random clip split" in caplog.text
    assert json.loads((tmp_path / "random" / "splits.json").read_text())["protocol"] == "random"

    run_cli(ravdess_dir, tmp_path / "grid", cache_dir, "rf-mfcc", "--grid_search")
    best = json.loads((tmp_path / "grid" / "grid_search.json").read_text())["best_params"]
    assert set(best) == {"n_estimators", "max_depth", "min_samples_leaf", "min_samples_split", "bootstrap"}


def test_grid_search_groups_by_speaker(monkeypatch):
    """The inner CV of --grid_search never puts a speaker in both its train and its test part."""
    from sklearn.model_selection import GroupKFold

    speakers = np.repeat([f"s{i}" for i in range(6)], 5)
    for train, test in GroupKFold(n_splits=3).split(np.zeros((30, 1)), groups=speakers):
        assert not set(speakers[train]) & set(speakers[test])


def test_skops_round_trip(tmp_path):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from hf_emotion.baselines.persistence import load_sklearn, save_sklearn

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((40, 5)), np.arange(40) % 3
    for model in (
        RandomForestClassifier(5, random_state=0),
        make_pipeline(StandardScaler(), MLPClassifier(max_iter=5)),
    ):
        model.fit(x, y)
        save_sklearn(model, tmp_path / "model.skops")
        loaded = load_sklearn(tmp_path / "model.skops")
        np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))


def test_torch_round_trip(tmp_path):
    import torch

    from hf_emotion.baselines.cnn1d import build_model
    from hf_emotion.baselines.persistence import load_torch_state, save_torch

    model = build_model(264, 4)
    save_torch(model, {"input_length": 264, "num_labels": 4}, tmp_path)
    state, config = load_torch_state(tmp_path)
    again = build_model(config["input_length"], config["num_labels"])
    again.load_state_dict(state)
    x = torch.randn(3, 264)
    model.eval(), again.eval()
    torch.testing.assert_close(model(x), again(x))


def test_cnn2d_augmentation_shapes():
    from hf_emotion.baselines.cnn2d_mel import augment, mel_frequencies, pitch_shift, time_stretch

    log_mel = np.random.default_rng(0).standard_normal((128, 150)).astype(np.float32)
    assert time_stretch(log_mel, 2.0).shape == (128, 75)
    np.testing.assert_allclose(pitch_shift(log_mel, 0.0, mel_frequencies()), log_mel, atol=1e-5)
    assert augment(log_mel, np.random.default_rng(1), mel_frequencies()).shape == (128, 128)


# --------------------------------------------------------------------------- va-rf / DEAM


def write_deam(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    steps = [f"sample_{15000 + 500 * i}ms" for i in range(8)]
    rng = np.random.default_rng(0)
    for name in ("arousal", "valence"):
        lines = ["song_id," + ",".join(steps)]
        for song in range(2, 32):
            level = (song % 5 - 2) / 4 + (0.1 if name == "arousal" else 0.0)
            values = [f"{level + 0.05 * rng.standard_normal():.3f}" for _ in steps]
            if song % 4 == 0:
                values[-3:] = ["", "", ""]  # a shorter song: trailing cells empty
            if song == 7:
                values[2] = ""  # a gap mid-series
            lines.append(f"{song}," + ",".join(values))
        (root / f"{name}.csv").write_text("\n".join(lines) + "\n")
    return root


def test_deam_parsing_with_missing_values(tmp_path):
    from hf_emotion.baselines.va_rf import load_deam, read_deam_table

    root = write_deam(tmp_path / "deam")
    table = read_deam_table(root / "arousal.csv")
    assert len(table) == 30 and table["4"].shape == (8,)
    assert np.isnan(table["4"][-3:]).all() and np.isfinite(table["4"][:5]).all()
    assert np.isnan(table["7"][2])
    songs, x, y = load_deam(root, prefix=0.5)
    assert x.shape == (30, 10) and y.shape == (30, 2)
    assert np.isfinite(x).all() and np.isfinite(y).all()
    i = songs.index("4")
    assert y[i, 1] == pytest.approx(np.nanmean(table["4"]))
    assert x[i, 5] == pytest.approx(np.mean(table["4"][:2]))  # first half (2 of 5 annotated... rounded) mean
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "valence.csv").write_text("id,x\n1,2\n")
    (tmp_path / "bad" / "arousal.csv").write_text("id,x\n1,2\n")
    with pytest.raises(ValueError, match="song_id"):
        load_deam(tmp_path / "bad")


def test_va_rf_on_deam_through_cli(tmp_path):
    root = write_deam(tmp_path / "deam")
    argv = ["baseline", "--system", "va-rf", "--deam_dir", str(root), "--output_dir", str(tmp_path / "out")]
    assert (
        main(argv + ["--num_folds", "3", "--cross_validation", "--n_estimators", "20", "--n_jobs", "1"]) == 0
    )
    summary = json.loads((tmp_path / "out" / "cv_summary.json").read_text())["summary"]
    for key in ("ccc_valence", "ccc_arousal", "mse_valence", "r2_arousal"):
        assert key in summary
    assert summary["ccc_valence"]["mean"] > 0.5  # the early part of these series predicts the mean well


def test_ccc_and_r2_on_hand_made_numbers():
    target = np.array([1.0, 2.0, 3.0, 4.0])
    assert ccc(target, target) == pytest.approx(1.0)
    # x = y + 1: cov 1.25, var 1.25 each, mean gap 1 → 2.5 / (2.5 + 1)
    assert ccc(target + 1, target) == pytest.approx(2.5 / 3.5)
    metrics = regression_metrics(np.stack([target + 1, target], 1), np.stack([target, target], 1))
    assert metrics["mse_valence"] == pytest.approx(1.0)
    assert metrics["r2_valence"] == pytest.approx(1 - 4.0 / 5.0)  # SSE 4, SST 5
    assert metrics["r2_arousal"] == pytest.approx(1.0)


# --------------------------------------------------------------------------- compare


def test_compare_two_runs(tmp_path, ravdess_dir, cache_dir, capsys):
    run_cli(ravdess_dir, tmp_path / "rf", cache_dir, "rf-mfcc", "--cross_validation")
    # A finetune-style run: prefixed metrics and a predictions.json of the same format.
    finetune = tmp_path / "finetune"
    finetune.mkdir()
    (finetune / "all_results.json").write_text(
        json.dumps({"eval_ua": 0.1, "test_ua": 0.61, "test_wa": 0.6, "test_macro_f1": 0.58})
    )
    labels = ["neutral", "calm", "happy"]
    (finetune / "predictions.json").write_text(
        json.dumps({"label_names": labels, "y_true": [0, 1, 2, 2], "y_pred": [0, 1, 2, 1]})
    )
    out = tmp_path / "cmp"
    assert main(["compare", str(tmp_path / "rf"), str(finetune), "--output", str(out)]) == 0
    table = (out / "comparison.md").read_text()
    assert "rf-mfcc · ravdess" in table and "| finetune | 1 | 0.610 ± 0.000 |" in table
    assert (out / "confusion_matrices.png").stat().st_size > 0
    assert table in capsys.readouterr().out


# --------------------------------------------------------------------------- real data tier


@pytest.mark.real_data
def test_rf_mfcc_real_ravdess_speech_above_chance(tmp_path):
    data = real_data_dir("ravdess-speech")
    argv = ["baseline", "--system", "rf-mfcc", "--dataset", "ravdess_speech", "--data_dir", str(data)]
    argv += ["--output_dir", str(tmp_path), "--n_jobs", str(min(2, os.cpu_count() or 1))]
    assert main(argv) == 0
    result = json.loads((tmp_path / "all_results.json").read_text())
    assert result["ua"] > 0.3  # chance is 0.125 over 8 classes
