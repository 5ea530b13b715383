#!/usr/bin/env python
"""Run the fine-tuning protocol from a run file and store its results as data.

Run (resumable: finished folds are kept, an interrupted fold resumes from its last checkpoint)::

    python -m benchmarks.run_finetune run configs/whisper-tiny.en-ravdess-speech.json \\
        --run_dir /tmp/runs/whisper-tiny.en-ravdess-speech [--folds 0 1] [-- --data_dir DIR ...]

Flags after ``--`` go to finetune.py and override the run file.

``run`` without ``--folds`` launches ``finetune.py CONFIG --cross_validation`` (all folds in one
process); with ``--folds`` each fold is its own ``finetune.py --fold k`` into ``RUN_DIR/fold_k``.
Either way ``RUN_DIR/run_info.json`` (or ``fold_k/run_info.json``) records the command, wall
time, peak RSS, machine and date.

Ensemble (no training; from the test predictions the runs saved)::

    python -m benchmarks.run_finetune ensemble RUN_DIR RUN_DIR [...] [--name NAME]

averages, fold by fold, the members' saved test probabilities and valence/arousal with equal
weights (fixed in advance, nothing chosen on the test speakers), which is what
``hf-emotion predict --model A --model B`` serves, and adds the ensemble to
``benchmarks/results/finetune.json``.

Collect (no training; numbers from runs made earlier)::

    python -m benchmarks.run_finetune collect RUN_DIR [RUN_DIR ...] [--measure_inference THREADS] \\
        [--role current|reproduction|history] [--judged_as CONFIG_NAME] [--kept_as WHY]

reads ``RUN_DIR/fold_*/all_results.json`` (a run made by hand needs ``--config`` so its data
and crop length are known) and merges the runs into ``benchmarks/results/finetune.json``.
``--role`` says where the report shows a run: ``current`` (a config's run, judged by the
targets stored for ``--judged_as``, default the run's name), ``reproduction`` (a current
config run another way, judged the same), or ``history`` (an ablation or superseded run, with
``--kept_as`` saying why); a run collected again keeps the role it had. Then
``python -m benchmarks.make_report`` renders BENCHMARKS.md from the data.

Test metrics are the final ``eval_*`` of each fold (unseen test speakers); ``validation_*`` are
the validation speakers used for model selection; ``eval_spknorm_*`` are transductive (each test
speaker's scores centred on that speaker's own mean) and are kept apart.
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
from types import SimpleNamespace

from benchmarks.common.arguments import split_finetune_args
from benchmarks.common.paths import RESULTS, ROOT
from benchmarks.common.reports import machine, utc_now
from benchmarks.common.runs import finished_folds, fold_number, saved_test_predictions
from benchmarks.finetune_tables import fmt, mean_std

METRICS = ("ua", "wa", "macro_f1", "ccc_valence", "ccc_arousal")


def _file_time(path: Path) -> str:
    """When a run made without run_finetune started: its splits.json is written before training."""
    stamp = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
    return stamp.strftime("%Y-%m-%d %H:%M UTC") + " (from file times)"


# --------------------------------------------------------------------------- run


def _launch(argv: list[str], log_path: Path) -> dict:
    """Run ``finetune.py argv`` with its output in ``log_path``; wall time and peak RSS of the child."""
    command = [sys.executable, str(ROOT / "finetune.py"), *argv]
    started, date = time.perf_counter(), utc_now()
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
    """A run file's data folders, relative ones taken from the repository root (as finetune.py runs there);
    a run file without ``data_dir`` reads the download cache, as finetune.py does."""
    if not data_args.data_dir:
        from hf_emotion.corpora import cached_dataset_dir

        return [cached_dataset_dir(name) for name in data_args.dataset]
    return [str(ROOT / d) if not os.path.isabs(d) else d for d in data_args.data_dir]


# --------------------------------------------------------------------------- speaker-normalised probe

SPKPROBE_DIR = "speaker_norm_probe"


def spkprobe(args) -> int:
    """``hf-emotion evaluate --speaker_norm_probe`` on every finished fold of a run, into fold_k/speaker_norm_probe."""
    run_dir = Path(args.run_dir)
    fold_dirs = finished_folds(run_dir, args.folds)
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


# --------------------------------------------------------------------------- ensembles


def ensemble_fold(fold_dirs: list[Path]) -> dict:
    """Test metrics of the equal-weight mean of several runs' saved test predictions for one fold."""
    from hf_emotion.evaluation.reports import average_predictions, record_metrics

    records, member_ua = zip(*(saved_test_predictions(d) for d in fold_dirs), strict=True)
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
    folds = sorted(set.intersection(*({fold_number(f) for f in finished_folds(d)} for d in run_dirs)))
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
        "summary": {k: mean_std([r[k] for r in records]) for k in keys},
        "command": "python -m benchmarks.run_finetune ensemble " + " ".join(map(str, run_dirs)),
        # shown with the current results only when every member is a current config's run
        "role": "current"
        if all(store["runs"].get(d.name, {}).get("role") == "current" for d in run_dirs)
        else "history",
        "machine": machine(),
        "collected": utc_now(),
    }
    if args.measure_inference:
        entry["inference"] = _inference_entry(
            [d / f"fold_{folds[0]}" for d in run_dirs], args.measure_inference
        )
        print(f"inference RTF {entry['inference']['rtf']:.3f} (batch 1, {args.measure_inference} threads)")
    _replace_entry(store.setdefault("ensembles", {}), entry)
    print(f"{name}: {len(folds)} folds, UA {fmt(entry['summary']['eval_ua'])}")
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
    record |= {k: results[k] for k in ("phases", "precision") if k in results}  # where the fold's time went
    record["fold_dir"] = str(fold_dir)
    record["fold"] = fold_number(fold_dir)
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
        from hf_emotion.training.trainer import best_whole_ua

        best = SimpleNamespace(
            best_global_step=state.get("best_global_step"), log_history=state["log_history"]
        )
        record["best_validation_ua_during_training"] = best_whole_ua(best)  # on whole clips
        record["best_validation_metric"] = state.get("best_metric")  # what chose the epoch
        record["best_checkpoint"] = state.get("best_model_checkpoint")
    return record


def _inference(model_dirs: list[Path], paths: list[str], threads: int) -> dict:
    """Real-time factor and peak RSS of batch-1 inference, measured in a fresh process. Several model dirs: an
    ensemble, each clip decoded once and scored by every model, their probabilities averaged."""
    out = subprocess.run(
        [
            sys.executable,
            *("-m", "benchmarks.run_finetune"),
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

    from hf_emotion.data.audio import decode_audio
    from hf_emotion.serving.recognizer import EmotionRecognizer

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


def collect_run(run_dir: Path, config: str | None, measure_inference: int) -> dict:
    info_path = run_dir / "run_info.json"
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    fold_dirs = finished_folds(run_dir)
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
    keys += sorted({k for f in folds for k in f if k.startswith("time_")}) + ["fold_wall_s"]
    summary = {k: mean_std([f.get(k) for f in folds]) for k in keys}
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
            if data_args and data_args.data_dir
            else list(data_args.dataset)
            if data_args
            else None
        ),
        "folds_done": [fold_number(d) for d in fold_dirs],
        "num_folds": num_folds,
        "summary": summary,
        "folds": folds,
        "wall_s": wall,
        "fold_wall_s_sum": sum(f.get("run_wall_s") or 0.0 for f in folds) or None,
        "train_runtime_total_s": sum(f.get("train_runtime", 0.0) for f in folds),
        "peak_rss_mib": peak,
        "date": info.get("date") or folds[0].get("run_date") or _file_time(fold_dirs[0] / "splits.json"),
        "machine": info.get("machine") or machine(),
        "collected": utc_now(),
    }
    from hf_emotion.training.final_model import FINAL_FOLDER

    final = run_dir / FINAL_FOLDER / "all_results.json"
    if final.exists():  # --final_model: its epochs, and where its time went
        entry["final_model"] = {
            k: v for k, v in json.loads(final.read_text()).items() if isinstance(v, (int, float, list))
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
    return _inference(model_dirs, paths, threads) | {"machine": machine(), "date": utc_now()}


def _load_store(results: Path) -> dict:
    """benchmarks/results/finetune.json: every collected run and ensemble, the targets, anchors and notes."""
    path = results / "finetune.json"
    empty = {"runs": {}, "ensembles": {}, "targets": {}, "anchors": [], "notes": []}
    return json.loads(path.read_text()) if path.exists() else empty


def _save_store(results: Path, store: dict) -> None:
    (results / "finetune.json").write_text(json.dumps(store, indent=2) + "\n")
    print(f"wrote {results / 'finetune.json'}; `python -m benchmarks.make_report` renders BENCHMARKS.md")


def run_role(name: str, old: dict, role: str | None, judged_as: str | None, kept_as: str | None) -> dict:
    """Where the report shows a run: as given, else as when it was collected before, else as the run of the
    config it is named after."""
    placed = {"role": role or old.get("role") or "current"}
    if placed["role"] != "history":
        placed["judged_as"] = judged_as or old.get("judged_as") or name
    if kept_as or old.get("kept_as"):
        placed["kept_as"] = kept_as or old["kept_as"]
    return placed


def collect(args) -> int:
    results = Path(args.results_dir)
    results.mkdir(parents=True, exist_ok=True)
    store = _load_store(results)
    for run_dir in args.run_dirs:
        entry = collect_run(Path(run_dir).resolve(), args.config, args.measure_inference)
        old = store["runs"].get(entry["name"], {})
        entry |= run_role(entry["name"], old, args.role, args.judged_as, args.kept_as)
        _replace_entry(store["runs"], entry)
        print(f"{entry['name']}: {len(entry['folds_done'])} folds, UA {fmt(entry['summary']['eval_ua'])}")
    for note in args.note or []:
        if note not in store["notes"]:
            store["notes"].append(note)
    _save_store(results, store)
    return 0


def _add_store_arguments(parser: argparse.ArgumentParser, measure_help: str) -> None:
    """The options of the commands that write ``finetune.json``: an inference timing, and where it goes."""
    parser.add_argument("--measure_inference", type=int, default=0, metavar="THREADS", help=measure_help)
    parser.add_argument("--results_dir", default=str(RESULTS), help="where finetune.json/.md are written")


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
        "ensemble", help="score the equal-weight mean of several runs' test predictions, fold by fold"
    )
    p.add_argument("run_dirs", nargs="+", help="runs over the same corpus and folds (e.g. two backbones)")
    p.add_argument("--name", help="row name (default: the run dir names joined with +)")
    _add_store_arguments(
        p, "time the ensemble's batch-1 inference (its fold models of the first fold, 40 test clips)"
    )
    p.set_defaults(func=ensemble)
    p = commands.add_parser("collect", help="gather finished runs into benchmarks/results/finetune.*")
    p.add_argument("run_dirs", nargs="+")
    p.add_argument(
        "--config",
        help="for run dirs made without run_finetune: the finetune.py arguments they were made with, "
        "e.g. 'configs/x.json --max_train_seconds 4' (quoted)",
    )
    _add_store_arguments(
        p, "time batch-1 inference of the fold-0 model on 40 of its test clips with this many threads"
    )
    p.add_argument("--note", action="append", help="a line for the Notes section (kept across collects)")
    p.add_argument(
        "--role",
        choices=("current", "reproduction", "history"),
        help="where the report shows the runs (default: as collected before, else current)",
    )
    p.add_argument(
        "--judged_as", help="the config whose stored targets judge the runs (default: the run's name)"
    )
    p.add_argument(
        "--kept_as", help="for --role history: why the runs are kept (e.g. 'ablation: no head refit')"
    )
    p.set_defaults(func=collect)
    # Everything after a bare `--` goes to finetune.py unchanged.
    own, finetune_args = split_finetune_args(argv)
    args = parser.parse_args(own)
    args.finetune_args = finetune_args
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
