"""Clip-by-clip against speaker-adaptive UA, in-corpus and on other corpora, from one encoding pass.

The model's encoder pools every clip once. Its own classifier scores the clips one by one;
a speaker-adaptive head (``hf_emotion.serving.speaker_adaptive``) is fitted on the training corpus's
train speakers (C chosen on its validation speakers, from the run's splits.json) and scores
each test speaker's clips standardised on that speaker's own clips. Both are restricted to
the labels model and test set share (``hf_emotion.evaluation.cross_corpus``).

Usage::

    python -m benchmarks.speaker_adaptive_ua --model tiny.en-fold0=/work/models/tiny-ravdess-fold0 \\
        --train ravdess_speech:/data/ravdess-speech:/work/models/tiny-ravdess-fold0/splits.json \\
        --test speech-test=ravdess_speech:/data/ravdess-speech:/work/models/tiny-ravdess-fold0/splits.json \\
        --test song=ravdess_song:/data/ravdess-song --labels shared angry,happy,neutral,sad

writes ``benchmarks/results/speaker_adaptive.md`` (+ JSON); ``--save_head DIR`` keeps the head.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from benchmarks.common.arguments import add_output, scoring_parser
from benchmarks.common.encoding import Encoder
from benchmarks.common.reports import command_line, table, utc_now, write_report
from benchmarks.common.scoring import label_subset
from hf_emotion.corpora import load_corpus
from hf_emotion.data.decode_cache import decode_dataset
from hf_emotion.data.splits import Split
from hf_emotion.evaluation.cross_corpus import match_labels, restricted_probabilities
from hf_emotion.evaluation.machine import describe_machine
from hf_emotion.evaluation.metrics import classification_metrics
from hf_emotion.training.speaker_adaptive_head import fit_speaker_adaptive_head

logger = logging.getLogger("speaker_adaptive_ua")


def parse_args(argv=None):
    parser = scoring_parser(__doc__, repeated_models=False)
    parser.add_argument(
        "--train",
        action="append",
        required=True,
        help="dataset:folder:splits.json the model was trained with; once per corpus it trained on",
    )
    parser.add_argument("--save_head", help="folder to save the fitted head in")
    add_output(parser, "speaker_adaptive.md")
    return parser.parse_args(argv)


def scores(encoder, head, encoded, corpus_labels, subset) -> dict:
    match = match_labels(encoder.labels, corpus_labels, subset)
    keep = [i for i, label in enumerate(encoded["labels"]) if label in match.labels]
    hidden = encoded["hidden"][keep]
    speakers = [encoded["speakers"][i] for i in keep]
    truth = [match.labels.index(encoded["labels"][i]) for i in keep]
    clip = restricted_probabilities(encoder.probabilities(hidden), encoder.labels, match.labels).argmax(1)
    adaptive = restricted_probabilities(
        head.probabilities(hidden, speakers), head.labels, match.labels
    ).argmax(1)
    return {
        "clip_ua": classification_metrics(truth, clip, match.labels)["ua"],
        "adaptive_ua": classification_metrics(truth, adaptive, match.labels)["ua"],
        "clips": len(keep),
        "speakers": len(set(speakers)),
    } | match.as_dict()


def encode_training_speakers(encoder, train_specs: list[str]) -> dict[str, tuple]:
    """``{"train"|"validation": (hidden, label ids, speakers)}`` over every training corpus's split speakers."""
    parts = {"train": [], "validation": []}
    for spec in train_specs:
        dataset, folder, split_file = spec.split(":")
        split = Split.from_json(split_file)
        corpus, _ = decode_dataset(load_corpus(dataset, folder), encoder.sampling_rate)
        for part, chunks in parts.items():
            members = set(getattr(split, part))
            if not members & set(corpus["speaker"]):
                logger.warning("%s has none of the %s speakers of %s", folder, part, split_file)
                continue
            chunks.append(
                encoder.encode(
                    corpus.filter(lambda s, m=members: s in m, input_columns="speaker"), f"{dataset} {part}"
                )
            )
    return {
        part: (
            np.concatenate([c["hidden"] for c in chunks]),
            [encoder.labels.index(x) for c in chunks for x in c["labels"]],
            [s for c in chunks for s in c["speakers"]],
        )
        for part, chunks in parts.items()
    }


def trained_on(train_specs: list[str]) -> str:
    return " + ".join(spec.split(":")[0] for spec in train_specs)


def markdown(model_name: str, train_specs: list[str], chosen: dict, results: list[dict], started: str):
    rows = [
        [r["test"], ", ".join(r["labels"]), f"{r['clips']} ({r['speakers']})"]
        + [f"{r['clip_ua']:.3f}", f"{r['adaptive_ua']:.3f}"]
        for r in results
    ]
    return [
        f"## Clip-by-clip and speaker-adaptive UA: {model_name}",
        "",
        f"Model: {model_name}; speaker-adaptive head fitted on the train speakers of {trained_on(train_specs)}, "
        f"C={chosen['adaptive_C']:g} chosen on its validation speakers (validation UA "
        f"{chosen['validation_adaptive_ua']:.3f}). Machine: {describe_machine()}. Date: {started}.",
        "",
        *table(["test set", "labels", "clips (speakers)", "clip by clip UA", "speaker-adaptive UA"], rows),
        "",
        "Speaker-adaptive: each test speaker's pooled encoder features standardised on all of that speaker's "
        "scored clips (transductive: it needs several clips of a speaker, and misleads when they are not varied).",
        "",
    ]


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    started = utc_now()
    model_name, path = args.model
    encoder = Encoder(path, args.batch_size, args.max_seconds)
    parts = encode_training_speakers(encoder, args.train)
    head, chosen = fit_speaker_adaptive_head(parts["train"], parts["validation"], encoder.labels)
    if args.save_head:
        Path(args.save_head).mkdir(parents=True, exist_ok=True)
        head.save(args.save_head)
    results = []
    for test in args.test:
        decoded = test.load(encoder.sampling_rate)
        encoded = encoder.encode(decoded, test.name)
        for label_set in args.labels:
            row = scores(encoder, head, encoded, decoded.features["emotion"].names, label_subset(label_set))
            results.append({"test": test.name, "label_set": label_set} | row)
            logger.info(
                "%s (%s): clip %.3f, adaptive %.3f", test.name, label_set, row["clip_ua"], row["adaptive_ua"]
            )
    lines = markdown(model_name, args.train, chosen, results, started)
    lines += [f"Command: `{command_line('benchmarks.speaker_adaptive_ua', argv)}`", ""]
    write_report(args.output, lines, {"head": chosen, "results": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
