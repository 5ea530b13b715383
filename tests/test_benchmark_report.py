"""The fine-tuning report (benchmarks/run_finetune.py): which targets judge which run, and what a fold kept."""

import importlib.util
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def run_finetune():
    spec = importlib.util.spec_from_file_location("run_finetune", ROOT / "benchmarks" / "run_finetune.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _machine() -> dict:
    return {"nproc": 2, "cpu": "cpu", "gpu": "no GPU", "memory_gib": 23.5, "torch": "2.13.0+cpu"}


def _run(folds: list[dict], ua: float) -> dict:
    stat = {"mean": ua, "std": 0.0, "n": len(folds)}
    summary = defaultdict(lambda: dict(stat))  # every metric the report reads with [...]
    for key in ("probe_validation_ua", "refit_initial_validation_ua", "refit_validation_ua"):
        summary[key]  # and those it reads with .get()
    return {
        "folds_done": list(range(len(folds))),
        "num_folds": 6,
        "summary": summary,
        "folds": folds,
        "wall_s": None,
        "fold_wall_s_sum": None,
        "train_runtime_total_s": 0.0,
        "peak_rss_mib": None,
        "command": "python finetune.py X",
        "run_dir": "/tmp/x",
        "date": "today",
        "machine": _machine(),
        "collected": "today",
    }


def _target_rows(markdown: str) -> list[str]:
    section = markdown.split("### Targets")[1].split("###")[0]
    return [line for line in section.splitlines() if line.startswith("| `")]


def _fit_row(markdown: str, name: str) -> str:
    return next(line for line in markdown.splitlines() if line.startswith(f"| `{name}` | "))


def test_each_target_judges_only_its_own_run_and_ablations_are_left_out(run_finetune):
    fold = {"fold_dir": "/tmp/x/fold_0", "eval_ua": 0.7}
    runs = {
        "whisper-tiny.en-ravdess-speech-song": _run([fold] * 6, 0.79),
        "whisper-tiny.en-ravdess-speech": _run([fold] * 6, 0.74),
        "whisper-tiny.en-crema-d": _run([fold] * 3, 0.71),
        "whisper-base-ravdess-speech-lr3e-5-probe-first": _run([fold] * 2, 0.75),
        "whisper-base-ravdess-speech": _run([fold] * 6, 0.76),
        "whisper-base-ravdess-speech-4-epochs": _run([fold] * 6, 0.77),
    }
    rows = _target_rows(run_finetune.render_markdown(runs, []))
    song = [r for r in rows if r.startswith("| `whisper-tiny.en-ravdess-speech-song`")]
    # speech+song is judged by its own 0.78 target, not by the speech-only 0.75 one it shares a prefix with
    assert [r for r in song if "eval_ua" in r] == [
        "| `whisper-tiny.en-ravdess-speech-song` | eval_ua ≥ 0.78 | 0.790 | yes |"
    ]
    speech = [r for r in rows if r.startswith("| `whisper-tiny.en-ravdess-speech` | eval_ua")]
    assert speech == ["| `whisper-tiny.en-ravdess-speech` | eval_ua ≥ 0.75 | 0.740 | no |"]
    crema = [r for r in rows if r.startswith("| `whisper-tiny.en-crema-d` | eval_ua")]
    assert crema == ["| `whisper-tiny.en-crema-d` | eval_ua ≥ 0.7 | 0.710 | yes (3 of 6 folds only) |"]
    assert not any("probe-first" in r for r in rows)
    # the config's run is judged; the schedule it replaced is an ablation
    base = [r for r in rows if r.startswith("| `whisper-base-ravdess-speech` | eval_ua")]
    assert base == ["| `whisper-base-ravdess-speech` | eval_ua ≥ 0.8 | 0.760 | no |"]
    assert not any("4-epochs" in r for r in rows)


def test_a_reproduction_of_a_config_is_judged_by_that_configs_targets(run_finetune):
    fold = {"fold_dir": "/tmp/x/fold_0", "eval_ua": 0.7}
    speech, readme, song = (
        _run([fold] * 6, 0.756),
        _run([fold] * 6, 0.759),
        _run([fold] * 6, 0.754),
    )
    speech["wall_s"], readme["wall_s"], song["wall_s"] = 3050.0, 3156.5, 6896.0
    runs = {
        "whisper-tiny.en-ravdess-speech": speech,
        "whisper-tiny.en-ravdess-speech-readme-command": readme,
        "whisper-tiny.en-ravdess-speech-song-readme-command": song,
    }
    rows = _target_rows(run_finetune.render_markdown(runs, []))
    readme_rows = [r for r in rows if r.startswith("| `whisper-tiny.en-ravdess-speech-readme-command`")]
    assert readme_rows[:2] == [
        "| `whisper-tiny.en-ravdess-speech-readme-command` | eval_ua ≥ 0.75 | 0.759 | yes |",
        "| `whisper-tiny.en-ravdess-speech-readme-command` | 6-fold wall time on 2 cores < 60 min | 52.6 min | yes |",
    ]
    # a reproduction of speech+song keeps speech+song's own target and has no wall-time target
    song_rows = [r for r in rows if r.startswith("| `whisper-tiny.en-ravdess-speech-song-readme-command`")]
    assert [r for r in song_rows if "eval_ua" in r or "wall time" in r] == [
        "| `whisper-tiny.en-ravdess-speech-song-readme-command` | eval_ua ≥ 0.78 | 0.754 | no |"
    ]


def test_a_fold_that_kept_the_probe_did_not_keep_its_refit_unless_probe_first(run_finetune):
    probe_kept = {"fold_dir": "/tmp/x/fold_0", "probe_selected": True, "refit_best_epoch": 12}
    refit_kept = {"fold_dir": "/tmp/x/fold_1", "probe_selected": False, "refit_best_epoch": 5}
    recorded = {**probe_kept, "refit_selected": False}
    runs = {
        "a": _run([probe_kept, refit_kept], 0.7),
        "a-probe-first": _run([probe_kept, refit_kept], 0.7),
        "b": _run([recorded, refit_kept], 0.7),
    }
    markdown = run_finetune.render_markdown(runs, [])
    assert _fit_row(markdown, "a").endswith(", 1 of 2 |")
    assert _fit_row(markdown, "a-probe-first").endswith(", 2 of 2 |")
    assert _fit_row(markdown, "b").endswith(", 1 of 2 |")


def test_the_mixing_table_shows_only_folds_that_mix(run_finetune):
    mixed = {
        "fold_dir": "/tmp/x/fold_0",
        "class_mixing_weight_valence": 0.75,
        "class_mixing_weight_arousal": 0.25,
        "validation_ccc_valence_regressor": 0.70,
        "validation_ccc_valence": 0.80,
        "validation_ccc_arousal_regressor": 0.85,
        "validation_ccc_arousal": 0.86,
        "eval_ccc_valence_regressor": 0.72,
        "eval_ccc_valence": 0.76,
    }
    plain = {"fold_dir": "/tmp/x/fold_1", "validation_ccc_valence": 0.5, "eval_ccc_valence": 0.5}
    markdown = run_finetune.render_markdown(
        {"whisper-tiny.en-ravdess-speech": _run([mixed, plain], 0.75), "whisper-base-x": _run([plain], 0.7)},
        [],
    )
    section = markdown.split("### Valence/arousal")[1].split("###")[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    # the unmixed fold stays out of the before → after means; a run with no mixing fold has no row
    assert rows == [
        "| `whisper-tiny.en-ravdess-speech` | 1 of 2 | 0.75 | 0.25 | 0.700 → 0.800 | 0.850 → 0.860 | "
        "0.720 → 0.760 | – → – |"
    ]


def _write_fold(fold_dir: Path, probabilities, y_true, valence_arousal, names, speakers) -> None:
    import json

    import numpy as np

    from hf_emotion.metrics import classification_metrics

    fold_dir.mkdir(parents=True)
    labels = ["angry", "calm", "sad"]
    record = {
        "label_names": labels,
        "y_true": y_true,
        "y_pred": np.argmax(probabilities, 1).tolist(),
        "probabilities": probabilities,
        "valence_arousal_pred": valence_arousal,
        "valence_arousal_true": [[-0.5, 0.8], [0.3, -0.5], [-0.6, -0.4], [-0.5, 0.8]],
        "speakers": speakers,
        "paths": [f"/data/{fold_dir.parent.name}/{n}" for n in names],
    }
    (fold_dir / "predictions.json").write_text(json.dumps(record))
    ua = classification_metrics(y_true, record["y_pred"], labels)["ua"]
    (fold_dir / "all_results.json").write_text(json.dumps({"eval_ua": ua}))


def test_ensemble_averages_the_saved_test_predictions_clip_by_clip(run_finetune, tmp_path):
    import json

    # Two runs over the same 4 clips, saved in different orders, wrong on different clips.
    _write_fold(
        tmp_path / "a" / "fold_0",
        [[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.2, 0.5, 0.3], [0.6, 0.2, 0.2]],
        [0, 1, 2, 0],
        [[-0.4, 0.7], [0.2, -0.4], [-0.6, -0.2], [-0.4, 0.6]],
        ["w.wav", "x.wav", "y.wav", "z.wav"],
        ["s1", "s1", "s2", "s2"],
    )
    _write_fold(
        tmp_path / "b" / "fold_0",
        [[0.1, 0.1, 0.8], [0.5, 0.3, 0.2], [0.3, 0.3, 0.4], [0.1, 0.1, 0.8]],
        [2, 0, 1, 0],  # y.wav, w.wav, x.wav, z.wav
        [[-0.6, -0.6], [-0.6, 0.9], [0.4, -0.6], [-0.6, 0.8]],
        ["y.wav", "w.wav", "x.wav", "z.wav"],
        ["s2", "s1", "s1", "s2"],
    )
    results = tmp_path / "results"
    results.mkdir()
    status = run_finetune.main(
        ["ensemble", str(tmp_path / "a"), str(tmp_path / "b"), "--name", "a+b", "--results_dir", str(results)]
    )
    assert status == 0
    entry = json.loads((results / "finetune.json").read_text())["ensembles"]["a+b"]
    fold = entry["folds"][0]
    # alone: a is wrong on y (UA 2/3), b on x and z (UA 1/2). The mean: w [.7 .175 .125] angry ✓,
    # x [.2 .55 .25] calm ✓, y [.15 .3 .55] sad ✓, z [.35 .15 .5] sad ✗ → UA (1/2 + 1 + 1) / 3.
    assert fold["member_eval_ua"] == [pytest.approx(2 / 3), pytest.approx(1 / 2)]
    assert fold["eval_wa"] == pytest.approx(0.75) and fold["eval_ua"] == pytest.approx(5 / 6)
    # valence of the mean, clip by clip after matching the orders: w -0.5, x 0.3, y -0.6, z -0.5 → exact
    assert fold["eval_ccc_valence"] == pytest.approx(1.0)
    markdown = (results / "finetune.md").read_text()
    row = _fit_row(markdown, "a+b")
    assert "| 1 | 0.833 |" in row and "`a` 0.667, `b` 0.500 | 1 of 1 |" in row

    # Runs over different clips (another fold or corpus) are refused, naming the folders.
    _write_fold(
        tmp_path / "c" / "fold_0",
        [[0.9, 0.05, 0.05]] * 4,
        [0, 1, 2, 0],
        [[0, 0]] * 4,
        ["p.wav", "q.wav", "r.wav", "s.wav"],
        ["s3"] * 4,
    )
    with pytest.raises(SystemExit, match="not over the same clips"):
        run_finetune.main(
            ["ensemble", str(tmp_path / "a"), str(tmp_path / "c"), "--results_dir", str(results)]
        )


def test_ensemble_inference_is_timed_on_the_first_folds_models(run_finetune, tmp_path, tiny_whisper_dir):
    import json

    from tests.synth import emotion_signal, write_audio
    from tests.test_inference import make_emotion_model_dir

    names = ["w.wav", "x.wav", "y.wav", "z.wav"]
    audio = tmp_path / "audio"
    audio.mkdir()
    for i, name in enumerate(names):
        write_audio(audio / name, emotion_signal("angry", seconds=1.0 + 0.5 * i, seed=i))
    for run, seed in (("a", 0), ("b", 1)):
        fold_dir = tmp_path / run / "fold_0"
        _write_fold(fold_dir, [[0.6, 0.2, 0.2]] * 4, [0, 1, 2, 0], [[0, 0]] * 4, names, ["s1"] * 4)
        record = json.loads((fold_dir / "predictions.json").read_text())
        record["paths"] = [str(audio / name) for name in names]  # real clips, for the timing
        (fold_dir / "predictions.json").write_text(json.dumps(record))
        make_emotion_model_dir(tiny_whisper_dir, fold_dir, seed=seed)
    results = tmp_path / "results"
    argv = [
        "ensemble",
        str(tmp_path / "a"),
        str(tmp_path / "b"),
        "--name",
        "a+b",
        "--results_dir",
        str(results),
    ]
    assert run_finetune.main([*argv, "--measure_inference", "1"]) == 0
    inference = json.loads((results / "finetune.json").read_text())["ensembles"]["a+b"]["inference"]
    # 4 clips, the first one warms up; both models ran on each clip, in a fresh process with 1 thread
    assert (inference["clips"], inference["models"], inference["threads"]) == (3, 2, 1)
    assert inference["audio_seconds"] == pytest.approx(1.5 + 2.0 + 2.5, abs=0.05)
    # compute seconds are saved rounded to 0.01
    assert inference["compute_seconds"] == pytest.approx(
        inference["rtf"] * inference["audio_seconds"], abs=0.006
    )
    assert inference["peak_rss_mib"] > 0 and inference["date"]
    row = _fit_row((results / "finetune.md").read_text(), "a+b")
    assert f"| {inference['rtf']:.3f} (3 clips, 1 threads, load " in row
    # A later run without --measure_inference keeps the measurement (same models, same clips).
    assert run_finetune.main(argv) == 0
    kept = json.loads((results / "finetune.json").read_text())["ensembles"]["a+b"]["inference"]
    assert kept == inference
    # The single-model timing goes through the same worker.
    single = run_finetune._inference([tmp_path / "a" / "fold_0"], [str(audio / n) for n in names], 1)
    assert (single["clips"], single["models"]) == (3, 1)
