"""UA under recording conditions: each model on one test set, clean and degraded (hf_emotion.data.conditions).

Usage::

    python benchmarks/robustness.py --model tiny.en-fold0=/work/models/tiny-ravdess-fold0 \\
        --test ravdess-speech-test=ravdess_speech:/data/ravdess-speech:/work/models/tiny-ravdess-fold0/splits.json

scores white and babble noise at 20/10/5 dB SNR, two simulated rooms, telephone and MP3 64 kbit/s
(``--conditions`` to choose), and writes ``benchmarks/results/robustness.md`` (+ JSON): a row
per condition, a column per model, each cell the UA and its drop from clean.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cross_corpus import RESULTS, TestSet, named_path  # noqa: E402

from hf_emotion.data.conditions import ROBUSTNESS_CONDITIONS, condition_key  # noqa: E402
from hf_emotion.evaluation.cross_corpus import evaluate_corpus  # noqa: E402
from hf_emotion.evaluation.machine import describe_machine  # noqa: E402
from hf_emotion.serving.recognizer import EmotionRecognizer  # noqa: E402

logger = logging.getLogger("robustness")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model", type=named_path, action="append", required=True, help="name=folder, repeated"
    )
    parser.add_argument("--test", type=TestSet.parse, required=True, help="name=dataset:folder[:splits.json]")
    parser.add_argument("--conditions", nargs="+", default=list(ROBUSTNESS_CONDITIONS))
    parser.add_argument(
        "--labels", help="a comma-separated subset to score (default: the labels both sides have)"
    )
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--max_seconds", type=float, default=20.0)
    parser.add_argument("--output", default=str(RESULTS / "robustness.md"))
    return parser.parse_args(argv)


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    results = {}
    for name, path in args.model:
        recognizer = EmotionRecognizer.from_pretrained(path, batch_size=args.batch_size)
        decoded = args.test.load(recognizer.sampling_rate)
        results[name], _ = evaluate_corpus(
            recognizer,
            decoded,
            labels=args.labels.split(",") if args.labels else None,
            batch_size=args.batch_size,
            max_seconds=args.max_seconds,
            conditions=args.conditions,
        )
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.with_suffix(".json").write_text(json.dumps(results, indent=1))
    names = list(results)
    first = results[names[0]]
    lines = [
        "## UA under recording conditions",
        "",
        f"Test set: {args.test.name} ({first['eval_clips']} clips, labels {', '.join(first['scored_labels'])}). "
        f"Machine: {describe_machine()}. Date: {started}.",
        "",
        "| condition | " + " | ".join(f"{n}: UA | drop" for n in names) + " |",
        "|---" * (2 * len(names) + 1) + "|",
        "| clean | " + " | ".join(f"{results[n]['eval_ua']:.3f} | -" for n in names) + " |",
    ]
    for spec in args.conditions:
        key = condition_key(spec)
        cells = [f"{results[n][f'eval_{key}_ua']:.3f} | {results[n][f'ua_drop_{key}']:+.3f}" for n in names]
        lines.append(f"| {spec} | " + " | ".join(cells) + " |")
    command = "python benchmarks/robustness.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    lines += ["", "Drop = clean UA minus the condition's (positive: worse).", "", f"Command: `{command}`", ""]
    output.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
