"""The benchmark report: fine-tuning results stored as data (benchmarks.run_finetune) and rendered into
BENCHMARKS.md and benchmarks/DETAILS.md (benchmarks.finetune_tables, benchmarks.make_report)."""

import importlib
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str):
    return importlib.import_module(f"benchmarks.{name}")


@pytest.fixture(scope="module")
def run_finetune():
    return _load("run_finetune")


@pytest.fixture(scope="module")
def tables():
    return _load("finetune_tables")


@pytest.fixture(scope="module")
def make_report():
    return _load("make_report")


def _machine() -> dict:
    return {"nproc": 2, "cpu": "cpu", "gpu": "no GPU", "memory_gib": 23.5, "torch": "2.13.0+cpu"}


SUMMARY_KEYS = [
    *(f"eval_{m}" for m in ("ua", "wa", "macro_f1", "ccc_valence", "ccc_arousal")),
    *(f"eval_spknorm_{m}" for m in ("ua", "wa", "macro_f1")),
    *("validation_ua", "train_audio_per_second", "probe_validation_ua"),
    *("refit_initial_validation_ua", "refit_validation_ua"),
]


def _run(folds: list[dict], ua: float, role: str = "current", judged_as: str | None = None) -> dict:
    # every metric the tables read: the same made-up value for all of them
    summary = {key: {"mean": ua, "std": 0.0, "n": len(folds)} for key in SUMMARY_KEYS}
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
        "role": role,
        **({"judged_as": judged_as} if judged_as else {}),
    }


TARGETS = {
    "tiny-speech": [
        {"metric": "eval_ua", "at_least": 0.75},
        {"metric": "wall_minutes", "below": 60, "folds": 6, "label": "6-fold wall time on 2 cores < 60 min"},
    ],
    "tiny-crema-d": [
        {"metric": "eval_ua", "at_least": 0.70},
        {"metric": "eval_spkprobe_ua", "at_least": 0.9},
    ],
}


def _rows(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("| `")]


def _row(lines: list[str], name: str) -> str:
    return next(line for line in lines if line.startswith(f"| `{name}` | "))


FOLD = {"fold": 0, "fold_dir": "/tmp/x/fold_0", "eval_ua": 0.7}


def test_a_run_is_judged_by_the_targets_of_the_config_it_runs(tables):
    runs = {"tiny-speech": _run([FOLD] * 6, 0.74, judged_as="tiny-speech")}
    assert _rows(tables.targets_table(runs, TARGETS)) == ["| `tiny-speech` | eval_ua ≥ 0.75 | 0.740 | no |"]


def test_a_history_run_is_not_judged(tables):
    runs = {"tiny-speech-4-epochs": _run([FOLD] * 6, 0.79, role="history")}
    assert _rows(tables.targets_table(runs, TARGETS)) == []


def test_a_partial_run_says_how_many_folds_met_the_target(tables):
    runs = {"tiny-crema-d": _run([FOLD] * 3, 0.71, judged_as="tiny-crema-d")}
    assert _rows(tables.targets_table(runs, TARGETS))[0] == (
        "| `tiny-crema-d` | eval_ua ≥ 0.7 | 0.710 | yes (3 of 6 folds only) |"
    )


def test_a_metric_the_run_lacks_is_shown_unmeasured(tables):
    run = _run([FOLD] * 6, 0.71, judged_as="tiny-crema-d")
    run["summary"]["eval_spkprobe_ua"] = {"mean": None, "std": None, "n": 0}
    assert _rows(tables.targets_table({"tiny-crema-d": run}, TARGETS))[1] == (
        "| `tiny-crema-d` | eval_spkprobe_ua ≥ 0.9 | – | – |"
    )


def test_a_reproduction_meets_the_wall_time_target_of_its_config(tables):
    run = _run([FOLD] * 6, 0.759, role="reproduction", judged_as="tiny-speech")
    run["wall_s"] = 3156.5
    assert _rows(tables.targets_table({"tiny-speech-readme-command": run}, TARGETS)) == [
        "| `tiny-speech-readme-command` | eval_ua ≥ 0.75 | 0.759 | yes |",
        "| `tiny-speech-readme-command` | 6-fold wall time on 2 cores < 60 min | 52.6 min | yes |",
    ]


def test_refit_column_counts_the_folds_whose_saved_model_kept_the_refit(tables):
    kept = {**FOLD, "refit_best_epoch": 5, "refit_selected": True}
    replaced = {**FOLD, "refit_best_epoch": 12, "refit_selected": False}
    row = _row(tables.runs_table({"a": _run([kept, replaced, kept], 0.7)}), "a")
    assert row.endswith(", 2 of 3 |")


def test_history_runs_table_says_why_each_run_is_kept(tables):
    run = _run([FOLD], 0.7, role="history") | {"kept_as": "ablation: no head refit"}
    assert _row(tables.runs_table({"a-no-refit": run}, why=True), "a-no-refit").startswith(
        "| `a-no-refit` | ablation: no head refit | 1 of 6 |"
    )


def test_the_mixing_table_shows_only_folds_that_mix(tables):
    mixed = {
        **FOLD,
        "class_mixing_weight_valence": 0.75,
        "class_mixing_weight_arousal": 0.25,
        "validation_ccc_valence_regressor": 0.70,
        "validation_ccc_valence": 0.80,
        "validation_ccc_arousal_regressor": 0.85,
        "validation_ccc_arousal": 0.86,
        "eval_ccc_valence_regressor": 0.72,
        "eval_ccc_valence": 0.76,
    }
    plain = {"fold": 1, "fold_dir": "/tmp/x/fold_1", "validation_ccc_valence": 0.5, "eval_ccc_valence": 0.5}
    lines = tables.mixing_table({"a": _run([mixed, plain], 0.75), "b": _run([plain], 0.7)})
    # the unmixed fold stays out of the before → after means; a run with no mixing fold has no row
    assert _rows(lines) == [
        "| `a` | 1 of 2 | 0.75 | 0.25 | 0.700 → 0.800 | 0.850 → 0.860 | 0.720 → 0.760 | – → – |"
    ]


def test_a_new_run_is_the_current_run_of_the_config_it_is_named_after(run_finetune):
    assert run_finetune.run_role("tiny-speech", {}, None, None, None) == {
        "role": "current",
        "judged_as": "tiny-speech",
    }


def test_a_run_collected_again_keeps_its_role(run_finetune):
    old = {"role": "history", "kept_as": "earlier schedule"}
    assert run_finetune.run_role("tiny-speech-4-epochs", old, None, None, None) == old


def test_a_reproduction_is_judged_as_the_config_given(run_finetune):
    placed = run_finetune.run_role("tiny-speech-readme-command", {}, "reproduction", "tiny-speech", "README")
    assert placed == {"role": "reproduction", "judged_as": "tiny-speech", "kept_as": "README"}


def _store(runs: dict) -> dict:
    return {"runs": runs, "ensembles": {}, "targets": TARGETS, "anchors": [], "notes": ["a note"]}


def test_report_shows_current_runs_first_and_history_last(make_report, tmp_path):
    current = _run([FOLD], 0.76, judged_as="tiny-speech") | {"datasets": ["ravdess (ravdess-speech)"]}
    history = _run([FOLD], 0.55, role="history") | {"kept_as": "earlier recipe"}
    (tmp_path / "finetune.json").write_text(json.dumps(_store({"tiny-speech": current, "old": history})))
    report = make_report.build(tmp_path)
    details = make_report.build(tmp_path, make_report.DETAILS_TEMPLATE)
    headline = report.split("## Current results")[1].split("### Targets")[0]
    assert "| `tiny-speech` | ravdess-speech | 1 of 6 | 0.760 |" in headline and "`old`" not in headline
    history_section = details.split("## History")[1]
    assert "| `old` | earlier recipe | 1 of 6 | 0.550 |" in history_section
    assert "`old`" not in report and "`old`" not in details.split("## History")[0]
    assert "- a note" in history_section


def test_report_lists_a_snippet_not_measured_yet_and_keeps_unnamed_ones(make_report, tmp_path):
    (tmp_path / "finetune.json").write_text(json.dumps(_store({})))
    (tmp_path / "baselines.md").write_text("## Baselines\n\nrf-mfcc 0.417\n")
    (tmp_path / "extra.md").write_text("## Something new\n")
    report = make_report.build(tmp_path)
    assert "rf-mfcc 0.417" in report and "## Something new" in report
    assert "Not measured yet: `inference.md` (made by `python -m benchmarks.inference_speed`)" in report


def test_benchmarks_md_is_what_the_stored_results_render(make_report):
    """BENCHMARKS.md and benchmarks/DETAILS.md are rendered, never edited: after changing a result or a
    template, run `python -m benchmarks.make_report`."""
    for path, text in make_report.render_all().items():
        if path.read_text() != text:
            pytest.fail(
                f"{path.relative_to(ROOT)} differs from what benchmarks/results/ renders: "
                "run python -m benchmarks.make_report"
            )


def _write_fold(fold_dir: Path, probabilities, y_true, valence_arousal, names, speakers) -> None:

    import numpy as np

    from hf_emotion.evaluation.metrics import classification_metrics

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
    store = json.loads((results / "finetune.json").read_text())
    row = _row(_load("finetune_tables").ensembles_table(store["ensembles"], store["runs"]), "a+b")
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

    from tests.serving.test_inference import make_emotion_model_dir
    from tests.synth import emotion_signal, write_audio

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
    store = json.loads((results / "finetune.json").read_text())
    row = _row(_load("finetune_tables").ensembles_table(store["ensembles"], store["runs"]), "a+b")
    assert f"| {inference['rtf']:.3f} (3 clips, 1 threads, load " in row
    # A later run without --measure_inference keeps the measurement (same models, same clips).
    assert run_finetune.main(argv) == 0
    kept = json.loads((results / "finetune.json").read_text())["ensembles"]["a+b"]["inference"]
    assert kept == inference
    # The single-model timing goes through the same worker.
    single = run_finetune._inference([tmp_path / "a" / "fold_0"], [str(audio / n) for n in names], 1)
    assert (single["clips"], single["models"]) == (3, 1)
