"""Cross-corpus matrix: every model scored on every test set, on voices it never heard, over shared labels.

Each model is a trained folder (``--model name=path``); each test set is a corpus folder
(``--test name=dataset:folder[:splits.json]``; the optional split file narrows it to that
split's test speakers). A cell scores only the clips of speakers the model never trained or
selected on: the ``train`` and ``validation`` speakers of the model folder's ``splits.json``
are left out (a folder without one is scored on every clip, and its cells are marked). So a
RAVDESS speech model scores its own test actors on RAVDESS speech, the *same* test actors'
songs on RAVDESS song (a new channel and new voices), and all of a corpus it never saw.
Speaker ids are the loaders' (``hf_emotion.corpora.loading``: ``ravdess-01``, ``crema_d-1001``), the
ones the training split was made of.

A cell is UA over the labels model and corpus share (the arg-max runs over those only,
``hf_emotion.evaluation.cross_corpus``); ``--labels`` adds tables for a fixed subset such as the 4-class
angry/happy/neutral/sad of the cross-corpus literature.

Usage::

    python benchmarks/cross_corpus.py \\
        --model tiny.en-ravdess-speech-fold0=/work/models/tiny-ravdess-fold0 \\
        --test ravdess-speech=ravdess_speech:/data/ravdess-speech \\
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

from hf_emotion.corpora import load_corpus  # noqa: E402
from hf_emotion.data.decode_cache import decode_dataset
from hf_emotion.data.splits import Split  # noqa: E402
from hf_emotion.evaluation.cross_corpus import evaluate_corpus  # noqa: E402
from hf_emotion.evaluation.machine import describe_machine  # noqa: E402
from hf_emotion.serving.recognizer import EmotionRecognizer  # noqa: E402

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


def heard_speakers(model_dir: str | Path) -> set[str] | None:
    """The speakers a model trained or chose its checkpoint on (``train`` + ``validation`` of the
    ``splits.json`` in its folder); None when the folder has no split file."""
    path = Path(model_dir) / "splits.json"
    if not path.is_file():
        return None
    split = Split.from_json(path)
    return set(split.train) | set(split.validation)


def unseen_clips(decoded, heard: set[str] | None):
    """The clips of speakers not in ``heard`` (every clip when ``heard`` is None: nothing is known)."""
    if heard is None:
        return decoded
    return decoded.filter(lambda speaker: speaker not in heard, input_columns="speaker")


def score_cell(recognizer, clips, label_set: str, *, batch_size: int, max_seconds: float | None) -> dict:
    """UA (and the rest of ``evaluate_corpus``'s metrics) of one cell over ``label_set`` (``shared`` or a
    comma-separated subset), with its clip and speaker counts; a cell without clips has ``eval_ua`` None."""
    if not len(clips):
        return {"eval_ua": None, "eval_clips": 0, "eval_speakers": 0}
    subset = None if label_set == "shared" else label_set.split(",")
    metrics, record = evaluate_corpus(
        recognizer, clips, labels=subset, batch_size=batch_size, max_seconds=max_seconds
    )
    return metrics | {"eval_speakers": len(set(record["speakers"]))}


def cell_text(result: dict | None) -> str:
    """``0.809 (8 cl., 240 clips, 4 spk.)``; a dagger when the model had no split file (its own voices may be in it)."""
    if result is None:
        return "-"
    if result["eval_ua"] is None:
        return "no unseen speakers"
    mark = "" if result.get("unseen_only", True) else " †"
    return (
        f"{result['eval_ua']:.3f} ({len(result['scored_labels'])} cl., {result['eval_clips']} clips, "
        f"{result['eval_speakers']} spk.){mark}"
    )


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
                cells.append(cell_text(found[0] if found else None))
            lines.append(f"| {model} | " + " | ".join(cells) + " |")
        lines.append("")
    dropped = {
        (r["model"], r["test"]): (r["model_labels_dropped"], r["corpus_labels_dropped"])
        for r in results
        if r["labels"] == "shared" and r["eval_ua"] is not None
    }
    if dropped:
        lines += [
            "Labels left out with 'shared' (model side: out of the arg-max; corpus side: clips left out):",
            "",
        ]
        for (model, test), (model_only, corpus_only) in dropped.items():
            lines.append(f"- {model} on {test}: model {model_only or 'none'}; corpus {corpus_only or 'none'}")
        lines.append("")
    unsplit = sorted({r["model"] for r in results if not r["unseen_only"]})
    if unsplit:
        lines += [
            f"† {', '.join(unsplit)}: no splits.json in the model folder, so every clip was scored, "
            "including speakers the model may have trained on.",
            "",
        ]
    return lines


def score_models(args) -> list[dict]:
    """Every cell: each model on the clips of each test set whose speakers it never heard, per label set."""
    results, decoded = [], {}
    for model_name, path in args.model:
        recognizer = ScoreCache(EmotionRecognizer.from_pretrained(path, batch_size=args.batch_size))
        heard = heard_speakers(path)
        if heard is None:
            logger.warning(
                "%s: no splits.json in %s, so every clip is scored, its own speakers too", model_name, path
            )
        for test in args.test:
            key = (test.name, recognizer.sampling_rate)
            if key not in decoded:
                decoded[key] = test.load(recognizer.sampling_rate)
            clips = unseen_clips(decoded[key], heard)
            for label_set in args.labels:
                cell = score_cell(
                    recognizer, clips, label_set, batch_size=args.batch_size, max_seconds=args.max_seconds
                )
                results.append(
                    {
                        "model": model_name,
                        "test": test.name,
                        "labels": label_set,
                        "unseen_only": heard is not None,
                    }
                    | cell
                )
                logger.info("%s on %s (%s): %s", model_name, test.name, label_set, cell_text(results[-1]))
    return results


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    results = score_models(args)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.with_suffix(".json").write_text(json.dumps(results, indent=1))
    command = "python benchmarks/cross_corpus.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    lines = [
        "## Cross-corpus UA: " + ", ".join(name for name, _ in args.model),
        "",
        f"Machine: {describe_machine()}. Date: {started}.",
        "",
        "Each cell scores only the clips of speakers the model neither trained nor chose its checkpoint on "
        "(the train and validation speakers of its splits.json are left out).",
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
