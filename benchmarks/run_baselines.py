"""Run the five baselines on the real corpora under the speaker-independent protocol; write one table.

Every system runs on RAVDESS speech (6 actor-disjoint folds) and the CREMA-D subset (6
speaker folds), plus rf-mfcc with ``--random_split`` (repeated 80/20 clip splits) next to
its speaker split on RAVDESS, so the table shows how much a speaker leak inflates accuracy.
The CNNs are the expensive part on a CPU: ``--cnn_folds`` (default 2) limits them to the
first folds, with ``--cnn_epochs`` epochs at most; the table says how many folds each row has.

    python -m benchmarks.run_baselines --ravdess /data/ravdess-speech --crema_d /data/crema-d-subset

Writes ``benchmarks/results/baselines.md`` (date, machine, table, times) and a confusion-matrix
figure per corpus next to it; the runs themselves go to ``--runs_dir``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from benchmarks.common.paths import RESULTS, ROOT
from benchmarks.common.reports import load_average
from hf_emotion.evaluation.machine import cpu_model

logger = logging.getLogger("run_baselines")


def baseline(system: str, dataset: str, data_dir: str, output_dir: Path, *extra: str) -> float:
    """Run ``hf-emotion baseline`` in a subprocess; returns its wall time (raises on failure)."""
    argv = [sys.executable, "-m", "hf_emotion.cli", "baseline", "--system", system, "--dataset", dataset]
    argv += ["--data_dir", data_dir, "--output_dir", str(output_dir), *extra]
    logger.info("$ %s", " ".join(argv[2:]))
    start = time.perf_counter()
    subprocess.run(argv, check=True, cwd=ROOT)
    return time.perf_counter() - start


def complete(run_dir: Path, folds: int) -> bool:
    """A run folder that already holds results for ``folds`` folds."""
    if (run_dir / "cv_summary.json").exists():
        return True
    return all((run_dir / f"fold_{k}" / "all_results.json").exists() for k in range(folds))


def recorded_seconds(run_dir: Path) -> float:
    """Wall time of a reused run: as recorded, else features + fitting from its results files."""
    if (run_dir / "benchmark_seconds.json").exists():
        return json.loads((run_dir / "benchmark_seconds.json").read_text())["seconds"]
    results = [json.loads(p.read_text()) for p in run_dir.glob("fold_*/all_results.json")]
    return sum(r.get("fit_seconds", 0.0) for r in results) + max(
        (r.get("feature_seconds", 0.0) for r in results), default=0.0
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ravdess", required=True, help="the ravdess-speech folder")
    parser.add_argument("--crema_d", default=None, help="the crema-d-subset folder (skipped when not given)")
    parser.add_argument("--runs_dir", default=os.path.expanduser("~/.cache/hf_emotion/baseline_runs"))
    parser.add_argument("--output", default=str(RESULTS / "baselines.md"))
    parser.add_argument("--num_folds", type=int, default=6)
    parser.add_argument(
        "--cnn_folds", type=int, default=2, help="folds the CNNs run (all when = --num_folds)"
    )
    parser.add_argument("--cnn_epochs", type=int, default=12)
    parser.add_argument("--n_jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument(
        "--systems", nargs="+", default=["rf-mfcc", "mlp-spectral", "va-rf", "cnn1d", "cnn2d-mel"]
    )
    parser.add_argument(
        "--max_folds",
        nargs="*",
        default=[],
        metavar="DATASET=N",
        help="run only the first N folds of a dataset (DATASET=N) or of one system on it (DATASET:SYSTEM=N)",
    )
    parser.add_argument("--reuse", action="store_true", help="keep run folders that already hold results")
    args = parser.parse_args()
    logging.basicConfig(format="%(asctime)s %(name)s: %(message)s", level=logging.INFO)
    args.max_folds = {k: int(v) for k, v in (item.split("=", 1) for item in args.max_folds)}

    from hf_emotion.commands.compare import (
        comparison_table,
        plot_confusion_matrices,
        run_predictions,
        run_summary,
    )

    corpora = [("ravdess_speech", "RAVDESS speech", args.ravdess)]
    if args.crema_d:
        corpora.append(("crema_d", "CREMA-D subset", args.crema_d))
    runs_dir = Path(args.runs_dir)
    common = ["--num_folds", str(args.num_folds), "--n_jobs", str(args.n_jobs)]
    sections, started = [], time.perf_counter()
    for dataset, title, data_dir in corpora:
        rows: list[tuple[str, Path, float, str]] = []  # name, run dir, seconds, note
        plan = [(s, []) for s in args.systems]
        if dataset == "ravdess_speech" and "rf-mfcc" in args.systems:
            plan.insert(1, ("rf-mfcc", ["--random_split"]))
        for system, extra in plan:
            name = system + (" (random 80/20 clip split: speaker leak)" if extra else "")
            run_dir = runs_dir / dataset / (system + ("-random" if extra else ""))
            cnn = system.startswith("cnn")
            folds = min(
                args.cnn_folds if cnn else args.num_folds,
                args.max_folds.get(f"{dataset}:{system}", args.max_folds.get(dataset, args.num_folds)),
            )
            more = ["--epochs", str(args.cnn_epochs)] if cnn else []
            note = (
                f"all {args.num_folds} folds"
                if folds == args.num_folds
                else f"folds 0-{folds - 1} of {args.num_folds} only (CPU time)"
            ) + (f", ≤{args.cnn_epochs} epochs" if cnn else "")
            done = [k for k in range(folds) if (run_dir / f"fold_{k}" / "all_results.json").exists()]
            if args.reuse and complete(run_dir, folds):
                seconds = recorded_seconds(run_dir)
                logger.info("reusing %s", run_dir)
            else:
                try:
                    if folds < args.num_folds or (args.reuse and done):
                        # fold by fold, so --reuse keeps the folds a shorter earlier invocation finished
                        todo = [k for k in range(folds) if not (args.reuse and k in done)]
                        seconds = recorded_seconds(run_dir) if args.reuse and done else 0.0
                        seconds += sum(
                            baseline(
                                system,
                                dataset,
                                data_dir,
                                run_dir / f"fold_{k}",
                                *common,
                                "--fold",
                                str(k),
                                *extra,
                                *more,
                            )
                            for k in todo
                        )
                    else:
                        seconds = baseline(
                            system, dataset, data_dir, run_dir, *common, "--cross_validation", *extra, *more
                        )
                except subprocess.CalledProcessError as error:
                    logger.error("%s on %s failed (%s); left out of the table", system, dataset, error)
                    continue
                (run_dir / "benchmark_seconds.json").write_text(json.dumps({"seconds": seconds}))
            rows.append((name, run_dir, seconds, note))
        names = [r[0] for r in rows]
        table = comparison_table(names, [run_summary(r[1]) for r in rows])
        figure = Path(args.output).with_name(f"baselines_{dataset}_confusion.png")
        plot_confusion_matrices(names, [run_predictions(r[1]) for r in rows], figure)
        times = "\n".join(f"| {n} | {s / 60:.1f} min | {note} |" for n, _, s, note in rows)
        sections.append(
            f"### {title} ({data_dir})\n\n{table}\n| run | wall time (features from cache where present) | folds |\n"
            f"|---|---|---|\n{times}\n\nConfusion matrices (pooled over the folds run): `{figure.name}`\n"
        )
    header = (
        "## Baselines under the speaker-independent protocol\n\n"
        f"{date.today()}; machine: `nproc` {os.cpu_count()}, {cpu_model()}, CPU only "
        f"(1-minute load average {load_average():.1f} at the end); this invocation {(time.perf_counter() - started) / 60:.1f} min. "
        f"Command: `python -m benchmarks.run_baselines {' '.join(sys.argv[1:])}`."
        + (
            " With `--reuse`, runs and folds an earlier invocation finished are kept; the wall times "
            "below add their recorded times (the earlier ones may have run on a busier machine).\n\n"
            if args.reuse
            else "\n\n"
        )
        + "UA = balanced accuracy (headline), WA = accuracy; mean ± std over the folds run (test fold k = "
        "speakers of fold k, validation = fold k+1, training = the rest; the sklearn systems train on "
        "training + validation speakers). va-rf's UA/WA/F1 come from mapping its predicted valence/arousal "
        "to the nearest emotion on the circumplex; its CCC is the regression score. Targets for CCC are the "
        "circumplex proxies of hf_emotion.data.targets, not human ratings.\n"
    )
    Path(args.output).write_text(header + "\n" + "\n".join(sections))
    print(Path(args.output).read_text())


if __name__ == "__main__":
    main()
