"""Each fold's model on its own test speakers, whole and cut to their speech: the framing target per fold.

Usage::

    python -m benchmarks.framing_folds --run_dir /work/runs/tiny-ravdess-speech-6fold \\
        --data ravdess_speech:/data/ravdess-speech --output benchmarks/results/framing_folds_ravdess_speech.md

A cross-validation run holds ``fold_k/`` folders, each a model with its ``splits.json``; every fold's
model is scored on that fold's test clips (``--speakers validation``: its validation clips) whole and under
each framing condition (default: cut by Silero VAD, by energy, VAD + 0.25 s of silence, 2 s of extra
silence), a row per fold and the mean.
The issue's target is judged on the means: UA on VAD-trimmed clips at least UA on whole clips - 0.03.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from benchmarks.common.arguments import add_output, add_scoring, described_parser
from benchmarks.common.reports import command_line, load_average, utc_now, write_report
from benchmarks.common.runs import finished_folds
from benchmarks.common.test_sets import TestSet
from hf_emotion import EmotionRecognizer
from hf_emotion.data.conditions import condition_key
from hf_emotion.evaluation.cross_corpus import evaluate_corpus
from hf_emotion.evaluation.machine import describe_machine

logger = logging.getLogger("framing_folds")

DEFAULT_CONDITIONS = ("trim:vad", "trim:energy", "trim:vad+silence:0.25", "silence:2")
TARGET_CONDITION, TARGET_MARGIN = "trim:vad", 0.03


def parse_args(argv=None):
    parser = described_parser(__doc__)
    parser.add_argument("--run_dir", required=True, type=Path, help="a cross-validation run: fold_k/ folders")
    parser.add_argument(
        "--data", required=True, help="dataset:folder the run trained on, e.g. crema_d:/data/crema"
    )
    parser.add_argument(
        "--conditions", nargs="+", default=list(DEFAULT_CONDITIONS), help="framing conditions"
    )
    parser.add_argument(
        "--speakers",
        choices=("test", "validation"),
        default="test",
        help="each fold's test speakers (the target), or its validation speakers: what a recipe choice may "
        "be judged on without looking at the test speakers",
    )
    add_scoring(parser)
    add_output(parser, "framing_folds.md")
    parser.add_argument("--title", default="Framing per fold: whole test clips and clips cut to their speech")
    return parser.parse_args(argv)


def fold_dirs(run_dir: Path) -> list[Path]:
    """The finished folds of a run, in fold order; a folder without them is refused in one line."""
    folds = finished_folds(run_dir)
    if not folds:
        raise SystemExit(f"error: --run_dir {run_dir} holds no finished fold_k/ (all_results.json)")
    return folds


def score_fold(fold: Path, data: str, conditions: list[str], args) -> dict:
    """The fold's model on the fold's test (or validation) speakers: whole-clip UA and each condition's."""
    dataset, _, folder = data.partition(":")
    recognizer = EmotionRecognizer.from_pretrained(str(fold), batch_size=args.batch_size)
    split = str(fold / "splits.json")
    test = TestSet(fold.name, dataset, folder, split, args.speakers).load(recognizer.sampling_rate)
    results, _ = evaluate_corpus(
        recognizer, test, batch_size=args.batch_size, max_seconds=args.max_seconds, conditions=conditions
    )
    return results


def table(results: dict[str, dict], conditions: list[str]) -> list[str]:
    """A row per fold and the mean, each cell the UA (and the drop from whole clips)."""
    keys = [condition_key(spec) for spec in conditions]
    lines = [
        "| fold | clips | whole | " + " | ".join(conditions) + " |",
        "|---" * (len(conditions) + 3) + "|",
    ]
    for name, r in results.items():
        cells = [f"{r[f'eval_{k}_ua']:.3f} ({-r[f'ua_drop_{k}']:+.3f})" for k in keys]
        lines.append(f"| {name} | {r['eval_clips']} | {r['eval_ua']:.3f} | " + " | ".join(cells) + " |")
    whole = np.mean([r["eval_ua"] for r in results.values()])
    means = [np.mean([r[f"eval_{k}_ua"] for r in results.values()]) for k in keys]
    cells = [f"**{m:.3f}** ({m - whole:+.3f})" for m in means]
    lines.append(f"| mean of {len(results)} | | **{whole:.3f}** | " + " | ".join(cells) + " |")
    return lines


def verdict(results: dict[str, dict], conditions: list[str]) -> str:
    """The target's line, judged on the means; empty when its condition was not scored."""
    if TARGET_CONDITION not in conditions:
        return ""
    key = condition_key(TARGET_CONDITION)
    whole = float(np.mean([r["eval_ua"] for r in results.values()]))
    trimmed = float(np.mean([r[f"eval_{key}_ua"] for r in results.values()]))
    met = "met" if trimmed >= whole - TARGET_MARGIN else "not met"
    return (
        f"Target (UA on {TARGET_CONDITION} clips ≥ UA on whole clips − {TARGET_MARGIN}): "
        f"{trimmed:.3f} against {whole:.3f} − {TARGET_MARGIN} = {whole - TARGET_MARGIN:.3f}, **{met}**."
    )


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    started, load = utc_now(), load_average()
    folds = fold_dirs(args.run_dir)
    results = {}
    for fold in folds:
        logger.info("scoring %s on its %s speakers", fold, args.speakers)
        results[fold.name] = score_fold(fold, args.data, args.conditions, args)
    lines = [
        f"## {args.title}",
        "",
        f"Run: `{args.run_dir}` ({len(folds)} folds), each fold's model on its own {args.speakers} speakers "
        f"({args.data.partition(':')[0]}). Cells: UA (change from whole clips). Machine: {describe_machine()}; "
        f"load average {load:.2f} at the start. Date: {started}.",
        "",
        *table(results, args.conditions),
        "",
        verdict(results, args.conditions) if args.speakers == "test" else "",
        "",
        f"Command: `{command_line('benchmarks.framing_folds', argv)}`",
        "",
    ]
    write_report(args.output, lines, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
