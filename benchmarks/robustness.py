"""UA under recording conditions: each model on one test set, clean and degraded (hf_emotion.data.conditions).

Usage::

    python -m benchmarks.robustness --model tiny.en-fold0=/work/models/tiny-ravdess-fold0 \\
        --test ravdess-speech-test=ravdess_speech:/data/ravdess-speech:/work/models/tiny-ravdess-fold0/splits.json

scores white and babble noise at 20/10/5 dB SNR, two simulated rooms, telephone and MP3 64 kbit/s, then
the clips cut to their speech (energy, Silero VAD) and padded again with silence or room noise
(``--conditions`` to choose), and writes ``benchmarks/results/robustness.md`` (+ JSON): a row
per condition, a column per model, each cell the UA and its drop from clean.
"""

from __future__ import annotations

import logging

from benchmarks.common.arguments import add_models, add_output, add_scoring, add_test_sets, described_parser
from benchmarks.common.reports import command_line, utc_now, write_report
from hf_emotion import EmotionRecognizer
from hf_emotion.data.conditions import FRAMING_CONDITIONS, ROBUSTNESS_CONDITIONS, condition_key
from hf_emotion.evaluation.cross_corpus import evaluate_corpus
from hf_emotion.evaluation.machine import describe_machine

logger = logging.getLogger("robustness")


def parse_args(argv=None):
    parser = described_parser(__doc__)
    add_models(parser, repeated=True)
    add_test_sets(parser, repeated=False)
    parser.add_argument(
        "--conditions",
        nargs="+",
        default=[*ROBUSTNESS_CONDITIONS, *FRAMING_CONDITIONS],
        help="condition specs (hf_emotion.data.conditions); default: the noise/room/channel set, then the "
        "framings (clips cut to their speech, then padded with silence or room noise)",
    )
    parser.add_argument(
        "--labels", help="a comma-separated subset to score (default: the labels both sides have)"
    )
    add_scoring(parser)
    add_output(parser, "robustness.md")
    parser.add_argument("--title", default="UA under recording conditions", help="the report's heading")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    started = utc_now()
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
    names = list(results)
    first = results[names[0]]
    lines = [
        f"## {args.title}",
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
    command = command_line("benchmarks.robustness", argv)
    lines += ["", "Drop = clean UA minus the condition's (positive: worse).", "", f"Command: `{command}`", ""]
    write_report(args.output, lines, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
