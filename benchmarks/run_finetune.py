#!/usr/bin/env python
"""Run the fine-tuning protocol from a run file and write the benchmark tables.

Run (resumable: finished folds are kept, an interrupted fold resumes from its last checkpoint)::

    python benchmarks/run_finetune.py run configs/whisper-tiny.en-ravdess-speech.json \\
        --run_dir /tmp/runs/whisper-tiny.en-ravdess-speech [--folds 0 1] [-- --data_dir DIR ...]

Flags after ``--`` go to finetune.py and override the run file.

``run`` without ``--folds`` launches ``finetune.py CONFIG --cross_validation`` (all folds in one
process); with ``--folds`` each fold is its own ``finetune.py --fold k`` into ``RUN_DIR/fold_k``.
Either way ``RUN_DIR/run_info.json`` (or ``fold_k/run_info.json``) records the command, wall
time, peak RSS, machine and date.

Ensemble (no training; from the test predictions the runs saved)::

    python benchmarks/run_finetune.py ensemble RUN_DIR RUN_DIR [...] [--name NAME]

averages, fold by fold, the members' saved test probabilities and valence/arousal with equal
weights (fixed in advance, nothing chosen on the test speakers), which is what
``hf-emotion predict --model A --model B`` serves, and adds the ensemble to
``benchmarks/results/finetune.*``.

Collect (no training; numbers from runs made earlier)::

    python benchmarks/run_finetune.py collect RUN_DIR [RUN_DIR ...] [--measure_inference THREADS]

reads ``RUN_DIR/fold_*/all_results.json`` (a run made by hand needs ``--config`` so its data
and crop length are known), merges the runs into ``benchmarks/results/finetune.json`` and
rewrites ``benchmarks/results/finetune.md``. Test metrics are the final ``eval_*`` of each
fold (unseen test speakers); ``validation_*`` are the validation speakers used for model
selection; ``eval_spknorm_*`` are transductive (each test speaker's scores centred on that
speaker's own mean) and are kept apart.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT))

from hf_emotion.machine import cpu_count, cpu_model  # noqa: E402

METRICS = ("ua", "wa", "macro_f1", "ccc_valence", "ccc_arousal")

# Published / earlier numbers, side by side with ours. UA on RAVDESS speech, 8 classes unless said.
ANCHORS = [
    ("EmoBox (Ma et al. 2024), 6 actor-disjoint folds, frozen Whisper-large-v3", 0.753, "published"),
    ("EmoBox, frozen WavLM-large", 0.720, "published"),
    ("EmoBox, frozen HuBERT-large", 0.700, "published"),
    ("EmoBox, frozen wav2vec2-base", 0.543, "published"),
    ("Pepino et al. 2021, wav2vec2, 7 classes, per-speaker normalisation", 0.843, "published"),
    ("this project earlier: frozen probe Whisper tiny.en", 0.725, "measured here earlier"),
    ("this project earlier: frozen probe Whisper base", 0.751, "measured here earlier"),
    (
        "this project earlier: frozen probe Whisper base + per-speaker standardisation",
        0.850,
        "measured here earlier",
    ),
    ("this project earlier: MFCC + random forest", 0.422, "measured here earlier"),
]

# Runs named <config>-<suffix> were made with an earlier recipe, a step of the current one left out,
# (-probe-first) the probe weighed against the crop-trained heads before the head refit, or (-4-epochs) the
# shorter schedule the config had before, or (-specaugment) a step tried and not adopted.
ABLATION_SUFFIXES = ("-earlier-recipe", "-no-refit", "-probe-first", "-4-epochs", "-specaugment")
# Runs of a current config made another way (the README's one-process command on a fresh machine): judged by
# the targets of the run they reproduce.
REPRODUCTION_SUFFIXES = ("-readme-command",)

TARGETS = {
    # run name, or the end of one (after a "-") → (metric, threshold)
    "whisper-base-ravdess-speech": [("eval_ua", 0.80), ("eval_spknorm_ua", 0.88), ("eval_spkprobe_ua", 0.88)],
    "whisper-tiny.en-ravdess-speech": [("eval_ua", 0.75)],
    "ravdess-speech-song": [("eval_ua", 0.78)],
    "crema-d": [("eval_ua", 0.70)],
}


# --------------------------------------------------------------------------- machine


def machine() -> dict:
    cpu = cpu_model()
    try:
        import torch

        threads, gpu = (
            torch.get_num_threads(),
            (torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"),
        )
        torch_version = torch.__version__
    except ImportError:  # pragma: no cover
        threads, gpu, torch_version = None, "unknown", "none"
    nproc = cpu_count()
    return {
        "nproc": nproc,
        "cpu": cpu,
        "gpu": gpu,
        "torch_threads": threads,
        "torch": torch_version,
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        # Other jobs share these cores: the 1-minute load average says how much (2.0 = both busy).
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def machine_line(m: dict) -> str:
    return f"{m['nproc']} CPU cores ({m['cpu']}), {m['gpu']}, {m['memory_gib']} GiB, torch {m['torch']}"


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _file_time(path: Path) -> str:
    """When a run made without run_finetune.py started: its splits.json is written before training."""
    stamp = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
    return stamp.strftime("%Y-%m-%d %H:%M UTC") + " (from file times)"


# --------------------------------------------------------------------------- run


def _launch(argv: list[str], log_path: Path) -> dict:
    """Run ``finetune.py argv`` with its output in ``log_path``; wall time and peak RSS of the child."""
    command = [sys.executable, str(ROOT / "finetune.py"), *argv]
    started, date = time.perf_counter(), now()
    with open(log_path, "a") as log:
        log.write(f"\n# {date}: {shlex.join(command)}\n")
        log.flush()
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        _, status, usage = os.wait4(process.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return {
        "argv": argv,
        "command": shlex.join(["python", "finetune.py", *argv]),
        "exit_code": code,
        "wall_s": round(time.perf_counter() - started, 1),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),  # Linux: KiB
        "date": date,
        "machine": machine(),
    }


def run(args) -> int:
    run_dir = Path(args.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    extra = list(args.finetune_args)
    if args.folds is None:
        argv = [args.config, "--cross_validation", "true", "--output_dir", str(run_dir), *extra]
        info = _launch(argv, run_dir / "finetune.log")
        info["config"] = args.config
        (run_dir / "run_info.json").write_text(json.dumps(info, indent=2))
        print(json.dumps({k: info[k] for k in ("exit_code", "wall_s", "peak_rss_mib")}))
        return info["exit_code"]
    for fold in args.folds:
        fold_dir = run_dir / f"fold_{fold}"
        if (fold_dir / "all_results.json").exists():
            print(f"fold {fold}: already finished in {fold_dir}")
            continue
        fold_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            args.config,
            "--cross_validation",
            "false",
            "--fold",
            str(fold),
            "--output_dir",
            str(fold_dir),
        ]
        info = _launch(argv + extra, fold_dir / "finetune.log")
        info["config"] = args.config
        (fold_dir / "run_info.json").write_text(json.dumps(info, indent=2))
        print(
            f"fold {fold}: exit {info['exit_code']}, {info['wall_s']} s, peak RSS {info['peak_rss_mib']} MiB"
        )
        if info["exit_code"]:
            return info["exit_code"]
    return 0


def _data_dirs(data_args) -> list[str]:
    """A run file's data folders, relative ones taken from the repository root (as finetune.py runs there)."""
    return [str(ROOT / d) if not os.path.isabs(d) else d for d in data_args.data_dir]


# --------------------------------------------------------------------------- speaker-normalised probe

SPKPROBE_DIR = "speaker_norm_probe"


def spkprobe(args) -> int:
    """``hf-emotion evaluate --speaker_norm_probe`` on every finished fold of a run, into fold_k/speaker_norm_probe."""
    run_dir = Path(args.run_dir)
    fold_dirs = _finished_folds(run_dir, args.folds)
    if not fold_dirs:
        raise SystemExit(f"{run_dir}: no finished fold_*/all_results.json")
    for fold_dir in fold_dirs:
        out = fold_dir / SPKPROBE_DIR
        if (out / "all_results.json").exists():
            print(f"{fold_dir.name}: already scored in {out}")
            continue
        info = json.loads((fold_dir / "run_info.json").read_text())
        _, data_args, _ = _parse_run(info["argv"])
        command = [
            *(sys.executable, "-m", "hf_emotion.cli", "evaluate", "--model", str(fold_dir)),
            *("--dataset", *data_args.dataset, "--data_dir", *_data_dirs(data_args)),
            *("--ravdess_channel", data_args.ravdess_channel, "--crema_d_labels", data_args.crema_d_labels),
            *("--split_file", str(fold_dir / "splits.json"), "--output_dir", str(out)),
            *("--max_seconds", str(data_args.max_eval_seconds), "--batch_size", "16", "--speaker_norm_probe"),
        ]
        started = time.perf_counter()
        out.mkdir(parents=True, exist_ok=True)
        with open(out / "evaluate.log", "w") as log:
            code = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT).returncode
        if code:
            print(f"{fold_dir.name}: evaluate failed (exit {code}), see {out / 'evaluate.log'}")
            return code
        result = json.loads((out / "all_results.json").read_text())
        print(
            f"{fold_dir.name}: spkprobe UA {result['eval_spkprobe_ua']:.3f} (plain UA {result['eval_ua']:.3f}), "
            f"{time.perf_counter() - started:.0f} s"
        )
    return 0


# --------------------------------------------------------------------------- valence/arousal class mixing


def mix(args) -> int:
    """Add the valence/arousal class mixing (``finetune.py --class_mixing``) to folds trained before it existed.

    Per fold: the class coordinates from its training speakers and the weights from its validation speakers,
    exactly as finetune.py chooses them, written into the fold model's config; then the test speakers are
    predicted again. The test UA must come out as before (same model, same clips): only valence/arousal change.
    The regressor-only values stay in all_results.json as ``*_regressor``.
    """
    import tempfile

    from transformers import AutoFeatureExtractor

    from hf_emotion.corpora import decode_dataset, load_corpora
    from hf_emotion.modeling_emotion import EmotionModel
    from hf_emotion.splits import Split, apply_split
    from hf_emotion.training import (
        evaluation_trainer,
        fit_class_mixing,
        predict_dataset,
        save_predictions,
        with_model_columns,
    )

    run_dir = Path(args.run_dir)
    fold_dirs = _finished_folds(run_dir, args.folds)
    todo = [
        d
        for d in fold_dirs
        if "class_mixing_weight_valence" not in json.loads((d / "all_results.json").read_text())
    ]
    for done in sorted(set(fold_dirs) - set(todo)):
        print(f"{done.name}: already mixes")
    if not todo:
        return 0
    _, data_args, training_args = _parse_run(json.loads((todo[0] / "run_info.json").read_text())["argv"])
    extractor = AutoFeatureExtractor.from_pretrained(todo[0])
    raw = load_corpora(
        data_args.dataset,
        _data_dirs(data_args),
        channel=data_args.ravdess_channel,
        label_source=data_args.crema_d_labels,
    )
    dataset, _ = decode_dataset(raw, extractor.sampling_rate, max_duration=data_args.max_audio_seconds)
    dataset = with_model_columns(dataset)
    for fold_dir in todo:
        started = time.perf_counter()
        results = json.loads((fold_dir / "all_results.json").read_text())
        model = EmotionModel.from_pretrained(fold_dir).eval()
        names = [model.config.id2label[i] for i in range(model.config.num_labels)]
        if names != raw.features["emotion"].names:
            raise SystemExit(
                f"{fold_dir}: the model's labels {names} are not the data's {raw.features['emotion'].names}"
            )
        parts = apply_split(dataset, Split.from_json(fold_dir / "splits.json"))
        with tempfile.TemporaryDirectory() as scratch:
            # the run's own batch size: padding changes the float rounding, and that can flip a near tie
            batch_size = training_args.per_device_eval_batch_size
            trainer = evaluation_trainer(model, extractor, scratch, batch_size, data_args.max_eval_seconds)
            mixing = fit_class_mixing(trainer, parts["train"], parts["validation"])
            test_metrics, record = predict_dataset(trainer, parts["test"], names, "eval")
        if abs(test_metrics["eval_ua"] - results["eval_ua"]) > 1e-6:
            raise SystemExit(
                f"{fold_dir}: test UA {test_metrics['eval_ua']:.4f} differs from the run's {results['eval_ua']:.4f}; "
                "not the same model or clips, left unchanged"
            )
        for name in model.config.regression_targets:
            for prefix in ("validation", "eval"):
                for metric in ("ccc", "mse", "r2"):
                    key = f"{prefix}_{metric}_{name}"
                    if key in results:
                        results[f"{key}_regressor"] = results.pop(key)
                    if prefix == "eval":
                        results[key] = test_metrics[key]
        results |= mixing | {"class_mixing_added_after_training": now()}
        # the config (and the model code beside it) now carry the mixing; the weights are as they were
        model.save_pretrained(fold_dir)
        (fold_dir / "all_results.json").write_text(json.dumps(results, indent=2))
        save_predictions(
            record, str(fold_dir), title=f"{fold_dir.name}: test UA {test_metrics['eval_ua']:.3f}"
        )
        print(
            f"{fold_dir.name}: "
            + ", ".join(
                f"{n} weight {mixing.get(f'class_mixing_weight_{n}', 0):g}, test CCC "
                f"{results[f'eval_ccc_{n}_regressor']:.3f} → {results[f'eval_ccc_{n}']:.3f}"
                for n in model.config.regression_targets
            )
            + f" ({time.perf_counter() - started:.0f} s)"
        )
    return 0


# --------------------------------------------------------------------------- ensembles


def _test_predictions(fold_dir: Path) -> tuple[dict, float]:
    """A fold's saved test predictions, checked against the UA the fold reported, and that UA."""
    from hf_emotion.metrics import classification_metrics

    record = json.loads((fold_dir / "predictions.json").read_text())
    reported = json.loads((fold_dir / "all_results.json").read_text())["eval_ua"]
    probabilities = np.asarray(record["probabilities"])
    ua = classification_metrics(record["y_true"], probabilities.argmax(1), record["label_names"])["ua"]
    # probabilities are saved to 5 decimals: a near tie may round into a different arg-max, rarely
    if abs(ua - reported) > 0.01:
        raise SystemExit(
            f"{fold_dir}: predictions.json gives test UA {ua:.3f}, the fold reported {reported:.3f}; "
            "it is not the fold's final test evaluation"
        )
    return record, reported


def ensemble_fold(fold_dirs: list[Path]) -> dict:
    """Test metrics of the equal-weight mean of several runs' saved test predictions for one fold."""
    from hf_emotion.training import average_predictions, record_metrics

    records, member_ua = zip(*(_test_predictions(d) for d in fold_dirs), strict=True)
    try:
        # matched by file name: the runs may spell the corpus folder differently
        record = average_predictions(records, key=lambda p: Path(p).name)
    except ValueError as error:
        raise SystemExit(
            f"{', '.join(map(str, fold_dirs))}: {error}; not the same fold of one corpus"
        ) from error
    metrics = record_metrics(record)
    metrics["member_eval_ua"] = list(member_ua)
    return metrics


def ensemble(args) -> int:
    run_dirs = [Path(d).resolve() for d in args.run_dirs]
    if len(run_dirs) < 2:
        raise SystemExit("an ensemble needs at least two run dirs")
    folds = sorted(set.intersection(*({_fold_number(f) for f in _finished_folds(d)} for d in run_dirs)))
    if not folds:
        raise SystemExit(f"{' and '.join(map(str, run_dirs))}: no fold has finished in every run")
    records = []
    for fold in folds:
        record = {"fold": fold} | ensemble_fold([d / f"fold_{fold}" for d in run_dirs])
        records.append(record)
        members = " / ".join(f"{ua:.3f}" for ua in record["member_eval_ua"])
        print(f"fold {fold}: ensemble UA {record['eval_ua']:.3f} (members {members})")
    results = Path(args.results_dir)
    results.mkdir(parents=True, exist_ok=True)
    store = _load_store(results)
    name = args.name or "+".join(d.name for d in run_dirs)
    keys = [f"eval_{m}" for m in METRICS] + [f"eval_spknorm_{m}" for m in ("ua", "wa", "macro_f1")]
    entry = {
        "name": name,
        "members": [d.name for d in run_dirs],
        "run_dirs": [str(d) for d in run_dirs],
        "folds_done": folds,
        "folds": records,
        "summary": {k: _mean_std([r[k] for r in records]) for k in keys},
        "command": "python benchmarks/run_finetune.py ensemble " + " ".join(map(str, run_dirs)),
        "machine": machine(),
        "collected": now(),
    }
    if args.measure_inference:
        entry["inference"] = _inference_entry(
            [d / f"fold_{folds[0]}" for d in run_dirs], args.measure_inference
        )
        print(f"inference RTF {entry['inference']['rtf']:.3f} (batch 1, {args.measure_inference} threads)")
    _replace_entry(store.setdefault("ensembles", {}), entry)
    print(f"{name}: {len(folds)} folds, UA {_fmt(entry['summary']['eval_ua'])}")
    _save_store(results, store)
    return 0


# --------------------------------------------------------------------------- collect


def _parse_run(argv: list[str]):
    from finetune import parse_args

    return parse_args(argv)


def _train_audio_seconds(data_args, train_speakers: list[str]) -> float:
    """Audio seconds one training epoch sees: each training clip cropped to --max_train_seconds."""
    import soundfile

    from hf_emotion.corpora import load_corpora

    raw = load_corpora(
        data_args.dataset,
        _data_dirs(data_args),
        channel=data_args.ravdess_channel,
        label_source=data_args.crema_d_labels,
    )
    wanted = set(train_speakers)
    total = 0.0
    for path, speaker in zip(raw["audio"], raw["speaker"], strict=True):
        if speaker in wanted:
            total += min(soundfile.info(path).duration, data_args.max_train_seconds or float("inf"))
    return total


def _fold_record(fold_dir: Path, run_argv: list[str] | None) -> dict:
    results = json.loads((fold_dir / "all_results.json").read_text())
    info_path = fold_dir / "run_info.json"
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    record = {k: v for k, v in results.items() if isinstance(v, (int, float))}
    record["fold_dir"] = str(fold_dir)
    record.update({f"run_{k}": v for k, v in info.items() if k in ("wall_s", "peak_rss_mib", "date")})
    split = json.loads((fold_dir / "splits.json").read_text())
    argv = info.get("argv") or run_argv
    if argv and "train_runtime" in results:
        _, data_args, _ = _parse_run(argv)
        per_epoch = _train_audio_seconds(data_args, split["train"])
        record["train_audio_seconds"] = per_epoch * results.get("epoch", 0.0)
        record["train_audio_per_second"] = record["train_audio_seconds"] / results["train_runtime"]
    probe_path = fold_dir / SPKPROBE_DIR / "all_results.json"
    if probe_path.exists():
        probe = json.loads(probe_path.read_text())
        record.update(
            {
                k: v
                for k, v in probe.items()
                if ("spkprobe" in k or "lrprobe" in k) and isinstance(v, (int, float))
            }
        )
    state_path = fold_dir / "trainer_state.json"
    if state_path.exists():
        state = json.loads(state_path.read_text())
        record["best_validation_ua_during_training"] = state.get("best_metric")
        record["best_checkpoint"] = state.get("best_model_checkpoint")
    return record


def _inference(model_dirs: list[Path], paths: list[str], threads: int) -> dict:
    """Real-time factor and peak RSS of batch-1 inference, measured in a fresh process. Several model dirs: an
    ensemble, each clip decoded once and scored by every model, their probabilities averaged."""
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "_inference_worker",
            str(threads),
            str(len(model_dirs)),
            *map(str, model_dirs),
            *paths,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if out.returncode:
        raise RuntimeError(f"inference measurement failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _inference_worker(threads: int, model_dirs: list[str], paths: list[str]) -> None:
    import torch

    from hf_emotion.audio import decode_audio
    from hf_emotion.inference import EmotionRecognizer

    torch.set_num_threads(threads)
    # One folder: the model; several: their EnsembleRecognizer, what `predict --model A --model B` runs.
    recognizer = EmotionRecognizer.from_pretrained(model_dirs[0] if len(model_dirs) == 1 else model_dirs)
    sampling_rate = recognizer.sampling_rate
    audio_s = compute_s = 0.0
    for i, path in enumerate(paths):
        audio = decode_audio(path, sampling_rate)[: int(20.0 * sampling_rate)]  # as evaluation cuts clips
        started = time.perf_counter()
        recognizer.score([audio], batch_size=1)
        if i:  # the first call warms up
            compute_s += time.perf_counter() - started
            audio_s += len(audio) / sampling_rate
    print(
        json.dumps(
            {
                "clips": len(paths) - 1,
                "models": len(model_dirs),
                "audio_seconds": round(audio_s, 1),
                "compute_seconds": round(compute_s, 2),
                "rtf": compute_s / audio_s,
                "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "threads": torch.get_num_threads(),
                "load_average_1min_after": round(os.getloadavg()[0], 2),
            }
        )
    )


def _span_seconds(fold_dirs: list[Path]) -> float | None:
    """First fold start → last fold end, for folds run by ``run`` (in parallel streams or not)."""
    spans = []
    for fold_dir in fold_dirs:
        info_path = fold_dir / "run_info.json"
        if info_path.exists():
            end = info_path.stat().st_mtime  # written as the fold's process ends
            spans.append((end - json.loads(info_path.read_text())["wall_s"], end))
    if len(spans) != len(fold_dirs):
        return None
    return round(max(e for _, e in spans) - min(s for s, _ in spans), 1)


def _finished_folds(run_dir: Path, folds: list[int] | None = None) -> list[Path]:
    """The run's ``fold_k`` folders that finished (``all_results.json`` written), in fold order; only ``folds``
    when given."""
    fold_dirs = sorted((p.parent for p in run_dir.glob("fold_*/all_results.json")), key=_fold_number)
    return [d for d in fold_dirs if folds is None or _fold_number(d) in folds]


def _fold_number(fold_dir: Path) -> int:
    if fold_dir.name.startswith("fold_"):
        return int(fold_dir.name.split("_")[1])
    return int(json.loads((fold_dir / "splits.json").read_text()).get("fold") or 0)


def _mean_std(values: list[float]) -> dict:
    values = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    if not values.size:
        return {"mean": None, "std": None, "n": 0}
    return {"mean": float(values.mean()), "std": float(values.std()), "n": int(values.size)}


def collect_run(run_dir: Path, config: str | None, measure_inference: int) -> dict:
    info_path = run_dir / "run_info.json"
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    fold_dirs = _finished_folds(run_dir)
    if not fold_dirs and (run_dir / "splits.json").exists() and (run_dir / "all_results.json").exists():
        fold_dirs = [run_dir]  # a single-fold run (no --cross_validation) writes straight into its dir
    if not fold_dirs:
        raise SystemExit(f"{run_dir}: no fold_*/all_results.json; nothing finished there yet")
    run_argv = info.get("argv") or (shlex.split(config) if config else None)
    if run_argv is None:
        first = fold_dirs[0] / "run_info.json"
        run_argv = json.loads(first.read_text())["argv"] if first.exists() else None
    folds = [_fold_record(d, run_argv) for d in fold_dirs]
    model_args, data_args, training_args = _parse_run(run_argv) if run_argv else (None, None, None)
    keys = [f"eval_{m}" for m in METRICS] + [f"validation_{m}" for m in METRICS]
    keys += [f"eval_spknorm_{m}" for m in ("ua", "wa", "macro_f1")]
    keys += [f"eval_spkprobe_{m}" for m in ("ua", "wa", "macro_f1")] + [
        "validation_spkprobe_ua",
        "eval_lrprobe_ua",
    ]
    keys += ["train_runtime", "train_audio_per_second", "epoch", "probe_validation_ua", "probe_seconds"]
    keys += ["refit_initial_validation_ua", "refit_validation_ua", "refit_seconds"]
    summary = {k: _mean_std([f.get(k) for f in folds]) for k in keys}
    wall = info.get("wall_s") or _span_seconds(fold_dirs)
    peak = max([info.get("peak_rss_mib") or 0.0] + [f.get("run_peak_rss_mib") or 0.0 for f in folds]) or None
    num_folds = data_args.num_folds if data_args else None
    entry = {
        "name": run_dir.name,
        "run_dir": str(run_dir),
        "config": info.get("config") or config,
        "command": info.get("command")
        or (f"python finetune.py {shlex.join(run_argv)}" if run_argv else None),
        "backbone": Path(model_args.model_name_or_path).name if model_args else None,
        "datasets": (
            [f"{n} ({Path(d).name})" for n, d in zip(data_args.dataset, data_args.data_dir, strict=True)]
            if data_args
            else None
        ),
        "folds_done": [_fold_number(d) for d in fold_dirs],
        "num_folds": num_folds,
        "summary": summary,
        "folds": folds,
        "wall_s": wall,
        "fold_wall_s_sum": sum(f.get("run_wall_s") or 0.0 for f in folds) or None,
        "train_runtime_total_s": sum(f.get("train_runtime", 0.0) for f in folds),
        "peak_rss_mib": peak,
        "date": info.get("date") or folds[0].get("run_date") or _file_time(fold_dirs[0] / "splits.json"),
        "machine": info.get("machine") or machine(),
        "collected": now(),
    }
    if measure_inference:
        entry["inference"] = _inference_entry([fold_dirs[0]], measure_inference)
    return entry


def _replace_entry(section: dict, entry: dict) -> None:
    """Put a run's or ensemble's fresh entry in its store section under its name, keeping the inference timing
    of the entry it replaces when this one was not timed (the same fold models, the same clips)."""
    old = section.get(entry["name"], {})
    if "inference" in old and "inference" not in entry:
        entry["inference"] = old["inference"]
    section[entry["name"]] = entry


def _inference_entry(model_dirs: list[Path], threads: int) -> dict:
    """Batch-1 inference of these fold models (several: their ensemble) on 40 of the first one's test clips
    (plus one to warm up), with the machine and date."""
    paths = json.loads((model_dirs[0] / "predictions.json").read_text())["paths"][:41]
    return _inference(model_dirs, paths, threads) | {"machine": machine(), "date": now()}


def _fmt(s: dict | None, digits: int = 3) -> str:
    if not s or s.get("mean") is None:
        return "–"
    if s.get("n") == 1:  # one fold: no spread to show
        return f"{s['mean']:.{digits}f}"
    return f"{s['mean']:.{digits}f} ± {s['std']:.{digits}f}"


def _refit_kept(fold: dict, run_name: str) -> bool:
    """Whether the fold's saved model has refitted heads: finetune.py records it as ``refit_selected``; folds
    written before that keep the refit unless the probe replaced it, which the probe-first order never did."""
    if "refit_selected" in fold:
        return fold["refit_selected"]
    return fold["refit_best_epoch"] > 0 and (
        run_name.endswith("-probe-first") or not fold.get("probe_selected")
    )


def render_ensembles(ensembles: dict, runs: dict) -> list[str]:
    """The ensembles table: the mean of the members' test predictions, beside the members."""
    lines = [
        "",
        "### Ensembles: the mean of several runs' probabilities",
        "",
        "Fold by fold, the members' saved test probabilities and valence/arousal averaged with equal weights "
        "(fixed in advance; nothing chosen on any speakers), which is what `hf-emotion predict --model A "
        "--model B` and the demo serve (`python benchmarks/run_finetune.py ensemble RUN_DIR RUN_DIR`). "
        "Inference RTF is batch 1: measured on the ensemble of the first fold's models where `ensemble "
        "--measure_inference THREADS` timed it (each clip decoded once, then scored by every model), otherwise "
        "the sum of the members' RTFs from the cost table.",
        "",
        "| ensemble | folds | UA | WA | macro-F1 | CCC valence | CCC arousal | spknorm UA (transductive) | "
        "members' UA on the same folds | folds above the best member | inference RTF (batch 1) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, e in ensembles.items():
        s = e["summary"]
        member_ua = [
            _mean_std([f["member_eval_ua"][i] for f in e["folds"]]) for i in range(len(e["members"]))
        ]
        above = sum(f["eval_ua"] > max(f["member_eval_ua"]) for f in e["folds"])
        if e.get("inference"):
            rtf = f"{e['inference']['rtf']:.3f} ({_inference_conditions(e['inference'])})"
        else:
            rtfs = [(runs.get(m) or {}).get("inference", {}).get("rtf") for m in e["members"]]
            rtf = f"{sum(rtfs):.3f} (sum of the members')" if all(r is not None for r in rtfs) else "–"
        members = ", ".join(f"`{m}` {_fmt(u)}" for m, u in zip(e["members"], member_ua, strict=True))
        lines.append(
            f"| `{name}` | {len(e['folds_done'])} | {_fmt(s['eval_ua'])} | {_fmt(s['eval_wa'])} | "
            f"{_fmt(s['eval_macro_f1'])} | {_fmt(s['eval_ccc_valence'])} | {_fmt(s['eval_ccc_arousal'])} | "
            f"{_fmt(s['eval_spknorm_ua'])} | {members} | {above} of {len(e['folds'])} | {rtf} |"
        )
    return lines


def _inference_conditions(inference: dict) -> str:
    return (
        f"{inference['clips']} clips, {inference['threads']} threads, "
        f"load {inference['machine'].get('load_average_1min', '?')}"
    )


def render_markdown(runs: dict, notes: list[str], ensembles: dict | None = None) -> str:
    lines = ["## Fine-tuning (speaker-independent folds)", ""]
    lines += [
        "Test metrics are on speakers never seen in training or model selection (mean ± population std "
        "over the folds run). The best epoch is chosen by UA on the validation speakers (the next fold); "
        "with the head refit, the refitted heads replace the chosen epoch's only when they score higher there, "
        "and with a linear-probe warm start the frozen probe is then a candidate too (runs named `-probe-first` "
        "weighed the probe against the crop-trained heads before the refit, and refitted the probe when kept). "
        "Valence/arousal CCC is against proxy targets derived from the emotion label and intensity "
        "(`hf_emotion/targets.py`), not listener ratings; it includes the class mixing on the folds that have "
        "it (next table but one).",
        "",
        "| run | folds | UA | WA | macro-F1 | CCC valence | CCC arousal | validation UA | linear probe: "
        "validation UA, folds that kept it | head refit: validation UA before → after, folds that kept it |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in runs.items():
        s = r["summary"]
        kept = [f["probe_selected"] for f in r["folds"] if "probe_selected" in f]
        probe = "–"
        if (s.get("probe_validation_ua") or {}).get("mean") is not None:
            probe = _fmt(s["probe_validation_ua"]) + (f", {sum(kept)} of {len(kept)}" if kept else "")
        refit = "–"
        if (s.get("refit_validation_ua") or {}).get("mean") is not None:
            refitted = [_refit_kept(f, name) for f in r["folds"] if "refit_best_epoch" in f]
            refit = (
                f"{_fmt(s['refit_initial_validation_ua'])} → {_fmt(s['refit_validation_ua'])}, "
                f"{sum(refitted)} of {len(refitted)}"
            )
        lines.append(
            f"| `{name}` | {len(r['folds_done'])} of {r['num_folds']} | {_fmt(s['eval_ua'])} | {_fmt(s['eval_wa'])} | "
            f"{_fmt(s['eval_macro_f1'])} | {_fmt(s['eval_ccc_valence'])} | {_fmt(s['eval_ccc_arousal'])} | "
            f"{_fmt(s['validation_ua'])} | {probe} | {refit} |"
        )
    lines += [
        "",
        "### Valence/arousal: the classifier's expectation mixed in",
        "",
        "With `--class_mixing` (the default) finetune.py mixes into the regressor's output the class "
        "probabilities' expectation of each class's mean training target, with one weight per dimension "
        "(0: regressor only, 1: class expectation only) chosen by CCC on the validation speakers. Folds trained "
        "before it existed got it afterwards with `python benchmarks/run_finetune.py mix RUN_DIR`, which "
        "chooses the weights the same way and predicts the test speakers again (their test UA reproduced to "
        "1e-6); for those the test CCC of the regressor alone is known too. Weights are listed fold by fold.",
        "",
        "| run | folds mixing | weights valence | weights arousal | validation CCC valence: regressor → mixed | "
        "validation CCC arousal: regressor → mixed | test CCC valence: regressor → mixed | "
        "test CCC arousal: regressor → mixed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in runs.items():
        mixing = [f for f in r["folds"] if "class_mixing_weight_valence" in f]
        if not mixing:
            continue
        cells = [
            " ".join(f"{f[f'class_mixing_weight_{d}']:g}" for f in mixing) for d in ("valence", "arousal")
        ]
        for prefix in ("validation", "eval"):
            for d in ("valence", "arousal"):
                before = _mean_std([f.get(f"{prefix}_ccc_{d}_regressor") for f in mixing])
                after = _mean_std([f.get(f"{prefix}_ccc_{d}") for f in mixing])
                cells.append(f"{_fmt(before)} → {_fmt(after)}")
        lines.append(f"| `{name}` | {len(mixing)} of {len(r['folds'])} | " + " | ".join(cells) + " |")
    if ensembles:
        lines += render_ensembles(ensembles, runs)
    lines += [
        "",
        "### Transductive: per-speaker normalisation",
        "",
        "Both use the unlabelled test audio of each speaker as a whole, so they are **not** comparable to "
        "the clip-by-clip numbers above. *spknorm*: each test speaker's log-probabilities centred on that "
        "speaker's own mean before the arg-max (computed by finetune.py). *spkprobe*: the fine-tuned "
        "encoder's mean-pooled hidden states of every layer, standardised per speaker on that speaker's "
        "own clips, classified by a logistic regression fitted on the training + validation speakers (C "
        "chosen on the validation speakers; `python benchmarks/run_finetune.py spkprobe RUN_DIR`, which runs "
        "`hf-emotion evaluate --speaker_norm_probe` on each fold). *same LR, no speaker norm*: that logistic "
        "regression on features standardised with the training clips' statistics, clip by clip (not "
        "transductive), which shows how much of the spkprobe number the speaker normalisation makes.",
        "",
        "| run | folds | spknorm UA | spknorm WA | spknorm macro-F1 | spkprobe folds | spkprobe UA | "
        "spkprobe WA | spkprobe macro-F1 | spkprobe validation UA | same LR, no speaker norm: UA |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in runs.items():
        s = r["summary"]
        probe_folds = (s.get("eval_spkprobe_ua") or {}).get("n", 0)
        lines.append(
            f"| `{name}` | {len(r['folds_done'])} of {r['num_folds']} | {_fmt(s['eval_spknorm_ua'])} | "
            f"{_fmt(s['eval_spknorm_wa'])} | {_fmt(s['eval_spknorm_macro_f1'])} | "
            f"{probe_folds or '–'} | {_fmt(s.get('eval_spkprobe_ua'))} | {_fmt(s.get('eval_spkprobe_wa'))} | "
            f"{_fmt(s.get('eval_spkprobe_macro_f1'))} | {_fmt(s.get('validation_spkprobe_ua'))} | "
            f"{_fmt(s.get('eval_lrprobe_ua'))} |"
        )
    lines += [
        "",
        "### Cost",
        "",
        "| run | wall time (first start → last end) | sum of fold wall times | training time (sum over folds) | "
        "training throughput (audio s / s) | "
        "peak RSS (training) | inference RTF (batch 1) | inference peak RSS |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in runs.items():
        s, inf = r["summary"], r.get("inference") or {}
        fold_sum = f"{r['fold_wall_s_sum'] / 60:.1f} min" if r.get("fold_wall_s_sum") else "–"
        wall = f"{r['wall_s'] / 60:.1f} min" if r.get("wall_s") else "–"
        rtf = f"{inf['rtf']:.3f} ({_inference_conditions(inf)})" if inf else "–"
        lines.append(
            f"| `{name}` | {wall} | {fold_sum} | {r['train_runtime_total_s'] / 60:.1f} min | "
            f"{_fmt(s['train_audio_per_second'], 1)} | "
            f"{(str(round(r['peak_rss_mib'])) + ' MiB') if r.get('peak_rss_mib') else '–'} | {rtf} | "
            f"{(str(round(inf['peak_rss_mib'])) + ' MiB') if inf else '–'} |"
        )
    lines += [
        "",
        "Training throughput counts the audio the model was trained on (each clip cropped to "
        "`max_train_seconds`, times the epochs) over `train_runtime`, heads-only warm-up epochs included; the "
        "linear probe (one encoder pass over the clips, then the heads on cached features) runs before "
        "`train_runtime` starts. "
        "Wall time includes data loading, every validation pass and the final validation/test evaluation. "
        "RTF = compute seconds / audio seconds, one clip at a time, fold-0 model.",
        "",
        "### Targets",
        "",
        "| run | target | measured | met |",
        "|---|---|---|---|",
    ]
    for name, r in runs.items():
        # Superseded recipes and ablations are shown above; the targets judge the current configs.
        if name.endswith(ABLATION_SUFFIXES):
            continue
        partial = len(r["folds_done"]) < (r["num_folds"] or 0)
        partial_note = f" ({len(r['folds_done'])} of {r['num_folds']} folds only)" if partial else ""
        judged = next((name.removesuffix(x) for x in REPRODUCTION_SUFFIXES if name.endswith(x)), name)
        for run_name, targets in TARGETS.items():
            if judged != run_name and not judged.endswith("-" + run_name):
                continue
            for key, threshold in targets:
                m = r["summary"].get(key, {}).get("mean")
                met = "–" if m is None else ("yes" if m >= threshold else "no") + partial_note
                lines.append(
                    f"| `{name}` | {key} ≥ {threshold} | {'–' if m is None else f'{m:.3f}'} | {met} |"
                )
        if judged == "whisper-tiny.en-ravdess-speech" and len(r["folds_done"]) == 6 and r.get("wall_s"):
            minutes = r["wall_s"] / 60
            lines.append(
                f"| `{name}` | 6-fold wall time on 2 cores < 60 min | {minutes:.1f} min | "
                f"{'yes' if minutes < 60 else 'no'} |"
            )
        for key in ("eval_ccc_valence", "eval_ccc_arousal"):
            m = r["summary"].get(key, {}).get("mean")
            if m is not None:
                met = ("yes" if m >= 0.8 else "no") + partial_note
                lines.append(f"| `{name}` | {key} ≥ 0.8 | {m:.3f} | {met} |")
    lines += ["", "### Published and earlier anchors (UA, RAVDESS speech)", "", "| system | UA | source |"]
    lines += ["|---|---|---|"] + [f"| {what} | {ua:.3f} | {src} |" for what, ua, src in ANCHORS]
    lines += [
        "",
        "EmoBox and the earlier probes freeze the encoder; the rows above fine-tune it. Pepino et al. use "
        "7 classes and per-speaker normalisation, so compare them with the transductive table.",
        "",
        "### How each number was made",
        "",
    ]
    for name, e in (ensembles or {}).items():
        lines.append(
            f"- `{name}`: `{e['command']}`, folds {e['folds_done']}, on {machine_line(e['machine'])}; "
            f"collected {e['collected']}."
        )
        for f in e["folds"]:
            lines.append(
                f"  - fold {f['fold']}: test UA {f['eval_ua']:.3f} (members "
                + " / ".join(f"{ua:.3f}" for ua in f["member_eval_ua"])
                + f"), spknorm UA {f['eval_spknorm_ua']:.3f}"
            )
    for name, r in runs.items():
        lines.append(
            f"- `{name}`: `{r['command']}` (run dir `{r['run_dir']}`), folds {r['folds_done']}, "
            f"started {r['date']}, on {machine_line(r['machine'])}; collected {r['collected']}."
        )
        for f in r["folds"]:
            lines.append(
                f"  - fold {_fold_number(Path(f['fold_dir']))}: test UA {f.get('eval_ua', float('nan')):.3f}, "
                f"spknorm UA {f.get('eval_spknorm_ua', float('nan')):.3f}, "
                + (f"spkprobe UA {f['eval_spkprobe_ua']:.3f}, " if "eval_spkprobe_ua" in f else "")
                + "validation UA "
                f"{f.get('validation_ua', float('nan')):.3f}, {f.get('epoch', 0):.1f} epochs, "
                f"train {f.get('train_runtime', 0) / 60:.1f} min"
            )
    if notes:
        lines += ["", "### Notes", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def _load_store(results: Path) -> dict:
    """benchmarks/results/finetune.json: every collected run, ensemble and note."""
    path = results / "finetune.json"
    return json.loads(path.read_text()) if path.exists() else {"runs": {}, "notes": []}


def _save_store(results: Path, store: dict) -> None:
    """Write finetune.json and the finetune.md rendered from it."""
    (results / "finetune.json").write_text(json.dumps(store, indent=2) + "\n")
    (results / "finetune.md").write_text(
        render_markdown(store["runs"], store["notes"], store.get("ensembles"))
    )
    print(f"wrote {results / 'finetune.json'} and {results / 'finetune.md'}")


def collect(args) -> int:
    results = Path(args.results_dir)
    results.mkdir(parents=True, exist_ok=True)
    store = _load_store(results)
    for run_dir in args.run_dirs:
        entry = collect_run(Path(run_dir).resolve(), args.config, args.measure_inference)
        _replace_entry(store["runs"], entry)
        print(f"{entry['name']}: {len(entry['folds_done'])} folds, UA {_fmt(entry['summary']['eval_ua'])}")
    for note in args.note or []:
        if note not in store["notes"]:
            store["notes"].append(note)
    _save_store(results, store)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_inference_worker":  # THREADS N MODEL_DIR×N PATH...
        count = int(argv[2])
        _inference_worker(int(argv[1]), argv[3 : 3 + count], argv[3 + count :])
        return 0
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("run", help="train (resumable) from a run file")
    p.add_argument("config", help="configs/<backbone>-<corpus>.json")
    p.add_argument("--run_dir", required=True, help="where the run goes (outside the repo or under outputs/)")
    p.add_argument("--folds", type=int, nargs="+", help="only these folds, each in its own process")
    p.set_defaults(func=run)
    p = commands.add_parser(
        "spkprobe", help="score the transductive speaker-normalised probe on every finished fold of a run"
    )
    p.add_argument("run_dir")
    p.add_argument("--folds", type=int, nargs="+", help="only these folds")
    p.set_defaults(func=spkprobe)
    p = commands.add_parser(
        "mix", help="add the valence/arousal class mixing to folds trained before finetune.py chose it"
    )
    p.add_argument("run_dir")
    p.add_argument("--folds", type=int, nargs="+", help="only these folds")
    p.set_defaults(func=mix)
    p = commands.add_parser(
        "ensemble", help="score the equal-weight mean of several runs' test predictions, fold by fold"
    )
    p.add_argument("run_dirs", nargs="+", help="runs over the same corpus and folds (e.g. two backbones)")
    p.add_argument("--name", help="row name (default: the run dir names joined with +)")
    p.add_argument(
        "--measure_inference",
        type=int,
        default=0,
        metavar="THREADS",
        help="time the ensemble's batch-1 inference (its fold models of the first fold, 40 test clips)",
    )
    p.add_argument("--results_dir", default=str(RESULTS), help="where finetune.json/.md are written")
    p.set_defaults(func=ensemble)
    p = commands.add_parser("collect", help="gather finished runs into benchmarks/results/finetune.*")
    p.add_argument("run_dirs", nargs="+")
    p.add_argument(
        "--config",
        help="for run dirs made without run_finetune.py: the finetune.py arguments they were made with, "
        "e.g. 'configs/x.json --max_train_seconds 4' (quoted)",
    )
    p.add_argument(
        "--measure_inference",
        type=int,
        default=0,
        metavar="THREADS",
        help="time batch-1 inference of the fold-0 model on 40 of its test clips with this many threads",
    )
    p.add_argument("--results_dir", default=str(RESULTS), help="where finetune.json/.md are written")
    p.add_argument("--note", action="append", help="a line for the Notes section (kept across collects)")
    p.set_defaults(func=collect)
    # Everything after a bare `--` goes to finetune.py unchanged.
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    args.finetune_args = extra
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
