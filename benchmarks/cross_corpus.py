"""Cross-corpus matrix: every model scored on every test set, over the labels each pair shares.

Each model is a trained folder (``--model name=path``); each test set is a corpus folder,
optionally narrowed to a run's test speakers (``--test name=dataset:folder[:splits.json]``,
the in-corpus cell). A cell is UA over the labels model and corpus share (the arg-max runs
over those only, ``hf_emotion.cross_corpus``); ``--labels`` adds rows for a fixed subset
such as the 4-class angry/happy/neutral/sad of the cross-corpus literature.

Usage::

    python benchmarks/cross_corpus.py \\
        --model tiny.en-ravdess-speech-fold0=/work/models/tiny-ravdess-fold0 \\
        --test ravdess-speech-test=ravdess_speech:/data/ravdess-speech:/work/models/tiny-ravdess-fold0/splits.json \\
        --test ravdess-song=ravdess_song:/data/ravdess-song --test crema-d=crema_d:/data/crema-d-subset \\
        --labels shared angry,happy,neutral,sad

writes ``benchmarks/results/cross_corpus.md`` and the full metrics next to it as JSON.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hf_emotion.corpora import decode_dataset, load_corpus  # noqa: E402
from hf_emotion.cross_corpus import evaluate_corpus  # noqa: E402
from hf_emotion.inference import EmotionRecognizer  # noqa: E402
from hf_emotion.machine import describe_machine  # noqa: E402
from hf_emotion.splits import Split  # noqa: E402

logger = logging.getLogger("cross_corpus")
RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class TestSet:
    name: str
    dataset: str
    folder: str
    split_file: str | None = None

    @classmethod
    def parse(cls, value: str) -> TestSet:
        name, _, rest = value.partition("=")
        parts = rest.split(":")
        if not name or len(parts) not in (2, 3):
            raise argparse.ArgumentTypeError(f"--test {value!r}: write name=dataset:folder[:splits.json]")
        return cls(name, parts[0], parts[1], parts[2] if len(parts) == 3 else None)

    def load(self, sampling_rate: int):
        """The decoded clips (only the split's test speakers when a split file is given)."""
        raw = load_corpus(self.dataset, self.folder)
        if self.split_file:
            test = set(Split.from_json(self.split_file).test)
            raw = raw.filter(lambda s: s in test, input_columns="speaker")
        decoded, skipped = decode_dataset(raw, sampling_rate)
        if skipped:
            logger.warning("%s: %d files skipped", self.name, len(skipped))
        return decoded


class ScoreCache:
    """A recognizer that scores each distinct clip once: the label sets of one test set share its scores."""

    def __init__(self, recognizer):
        self.recognizer = recognizer
        self.labels, self.sampling_rate = recognizer.labels, recognizer.sampling_rate
        self.regression_targets = recognizer.regression_targets
        self._scores: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}

    def score(self, signals, *, batch_size=None):
        keys = [hashlib.sha1(np.ascontiguousarray(s).tobytes()).digest() for s in signals]
        missing = [i for i, key in enumerate(keys) if key not in self._scores]
        if missing:
            probabilities, regression = self.recognizer.score(
                [signals[i] for i in missing], batch_size=batch_size
            )
            for row, i in enumerate(missing):
                self._scores[keys[i]] = (probabilities[row], regression[row])
        return tuple(np.stack([self._scores[key][part] for key in keys]) for part in (0, 1))


def named_path(value: str) -> tuple[str, str]:
    name, _, path = value.partition("=")
    if not path:
        raise argparse.ArgumentTypeError(f"--model {value!r}: write name=folder")
    return name, path


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model", type=named_path, action="append", required=True, help="name=folder, repeated"
    )
    parser.add_argument(
        "--test", type=TestSet.parse, action="append", required=True, help="name=dataset:folder[:splits.json]"
    )
    parser.add_argument(
        "--labels",
        nargs="+",
        default=["shared"],
        help="label sets, one table each: 'shared' (all labels both sides have) or a comma-separated subset",
    )
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--max_seconds", type=float, default=20.0)
    parser.add_argument("--output", default=str(RESULTS / "cross_corpus.md"))
    return parser.parse_args(argv)


def markdown(results: list[dict], models: list[str], tests: list[str], label_sets: list[str]) -> list[str]:
    lines = []
    for label_set in label_sets:
        title = "labels both sides have" if label_set == "shared" else label_set
        lines += [
            f"### UA over {title}",
            "",
            "| model | " + " | ".join(tests) + " |",
            "|---" * (len(tests) + 1) + "|",
        ]
        for model in models:
            cells = []
            for test in tests:
                found = [
                    r for r in results if (r["model"], r["test"], r["labels"]) == (model, test, label_set)
                ]
                r = found[0] if found else None
                cells.append(
                    f"{r['eval_ua']:.3f} ({len(r['scored_labels'])} cl., {r['eval_clips']} clips)"
                    if r
                    else "-"
                )
            lines.append(f"| {model} | " + " | ".join(cells) + " |")
        lines.append("")
    dropped = {
        (r["model"], r["test"]): (r["model_labels_dropped"], r["corpus_labels_dropped"])
        for r in results
        if r["labels"] == "shared"
    }
    if dropped:
        lines += [
            "Labels left out with 'shared' (model side: out of the arg-max; corpus side: clips left out):",
            "",
        ]
        for (model, test), (model_only, corpus_only) in dropped.items():
            lines.append(f"- {model} on {test}: model {model_only or 'none'}; corpus {corpus_only or 'none'}")
        lines.append("")
    return lines


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    results = []
    for model_name, path in args.model:
        recognizer = ScoreCache(EmotionRecognizer.from_pretrained(path, batch_size=args.batch_size))
        for test in args.test:
            decoded = test.load(recognizer.sampling_rate)
            for label_set in args.labels:
                subset = None if label_set == "shared" else label_set.split(",")
                metrics, _ = evaluate_corpus(
                    recognizer,
                    decoded,
                    labels=subset,
                    batch_size=args.batch_size,
                    max_seconds=args.max_seconds,
                )
                results.append({"model": model_name, "test": test.name, "labels": label_set} | metrics)
                logger.info("%s on %s (%s): UA %.3f", model_name, test.name, label_set, metrics["eval_ua"])
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.with_suffix(".json").write_text(json.dumps(results, indent=1))
    command = "python benchmarks/cross_corpus.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    lines = [
        "## Cross-corpus UA",
        "",
        f"Machine: {describe_machine()}. Date: {started}.",
        "",
        *markdown(results, [m for m, _ in args.model], [t.name for t in args.test], args.labels),
        f"Command: `{command}`",
        "",
    ]
    output.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
