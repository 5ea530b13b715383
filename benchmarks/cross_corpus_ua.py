"""Cross-corpus UA: every model scored on every test set, on voices it never heard, over shared labels.

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

    python -m benchmarks.cross_corpus_ua \\
        --model tiny.en-ravdess-speech-fold0=/work/models/tiny-ravdess-fold0 \\
        --test ravdess-speech=ravdess_speech:/data/ravdess-speech \\
        --test ravdess-song=ravdess_song:/data/ravdess-song --test crema-d=crema_d:/data/crema-d-subset \\
        --labels shared angry,happy,neutral,sad

writes ``benchmarks/results/cross_corpus.md`` and the full metrics next to it as JSON.
"""

from __future__ import annotations

import logging

from benchmarks.common.arguments import add_output, scoring_parser
from benchmarks.common.reports import command_line, utc_now, write_report
from benchmarks.common.runs import heard_speakers
from benchmarks.common.scoring import ScoreCache, score_cell, unseen_clips
from hf_emotion import EmotionRecognizer
from hf_emotion.evaluation.machine import describe_machine

logger = logging.getLogger("cross_corpus_ua")


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


def parse_args(argv=None):
    parser = scoring_parser(__doc__, repeated_models=True)
    add_output(parser, "cross_corpus.md")
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
    started = utc_now()
    results = score_models(args)
    lines = [
        "## Cross-corpus UA: " + ", ".join(name for name, _ in args.model),
        "",
        f"Machine: {describe_machine()}. Date: {started}.",
        "",
        "Each cell scores only the clips of speakers the model neither trained nor chose its checkpoint on "
        "(the train and validation speakers of its splits.json are left out).",
        "",
        *markdown(results, [m for m, _ in args.model], [t.name for t in args.test], args.labels),
        f"Command: `{command_line('benchmarks.cross_corpus_ua', argv)}`",
        "",
    ]
    write_report(args.output, lines, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
