"""Clip-by-clip against speaker-adaptive UA, in-corpus and on other corpora, from one encoding pass.

The model's encoder pools every clip once. Its own classifier scores the clips one by one;
a speaker-adaptive head (``hf_emotion.training.speaker_adaptive_head``) is fitted on the training corpus's
train speakers (C chosen on its validation speakers, from the run's splits.json) and scores
each test speaker's clips standardised on that speaker's own clips. Both are restricted to
the labels model and test set share (``hf_emotion.evaluation.cross_corpus``).

Usage::

    python benchmarks/speaker_adaptive.py --model tiny.en-fold0=/work/models/tiny-ravdess-fold0 \\
        --train ravdess_speech:/data/ravdess-speech:/work/models/tiny-ravdess-fold0/splits.json \\
        --test speech-test=ravdess_speech:/data/ravdess-speech:/work/models/tiny-ravdess-fold0/splits.json \\
        --test song=ravdess_song:/data/ravdess-song --labels shared angry,happy,neutral,sad

writes ``benchmarks/results/speaker_adaptive.md`` (+ JSON); ``--save_head DIR`` keeps the head.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cross_corpus import RESULTS, TestSet, named_path  # noqa: E402

from hf_emotion.corpora import load_corpus  # noqa: E402
from hf_emotion.data.decode_cache import decode_dataset
from hf_emotion.data.splits import Split  # noqa: E402
from hf_emotion.evaluation.cross_corpus import match_labels, restricted_probabilities  # noqa: E402
from hf_emotion.evaluation.machine import describe_machine  # noqa: E402
from hf_emotion.evaluation.metrics import classification_metrics  # noqa: E402
from hf_emotion.training.speaker_adaptive_head import fit_speaker_adaptive_head  # noqa: E402

logger = logging.getLogger("speaker_adaptive")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=named_path, required=True, help="name=folder")
    parser.add_argument(
        "--train",
        action="append",
        required=True,
        help="dataset:folder:splits.json the model was trained with; once per corpus it trained on",
    )
    parser.add_argument("--test", type=TestSet.parse, action="append", required=True)
    parser.add_argument("--labels", nargs="+", default=["shared"])
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--max_seconds", type=float, default=20.0)
    parser.add_argument("--save_head", help="folder to save the fitted head in")
    parser.add_argument("--output", default=str(RESULTS / "speaker_adaptive.md"))
    return parser.parse_args(argv)


class Encoder:
    """The model's pooled hidden states ``(N, L, H)`` of decoded clips, and its own classifier on them."""

    def __init__(self, path: str, batch_size: int, max_seconds: float):
        from transformers import AutoFeatureExtractor

        from hf_emotion.model.modeling_emotion import EmotionModel

        self.model = EmotionModel.from_pretrained(path).eval()
        self.extractor = AutoFeatureExtractor.from_pretrained(path)
        self.sampling_rate = self.extractor.sampling_rate
        self.max_seconds = max_seconds
        self.labels = [self.model.config.id2label[i] for i in range(self.model.config.num_labels)]
        self.batch_size = batch_size

    def encode(self, decoded, description: str) -> dict:
        from hf_emotion.model.batches import with_model_columns
        from hf_emotion.training.speaker_adaptive_head import encode_clips

        logger.info("encoding %s", description)
        with torch.inference_mode():
            encoded = encode_clips(
                self.model,
                self.extractor,
                with_model_columns(decoded),
                max_seconds=self.max_seconds,
                batch_size=self.batch_size,
            )
        names = decoded.features["emotion"].names
        return {
            "hidden": encoded["hidden"],
            "labels": [names[i] for i in decoded["emotion"]],
            "speakers": list(decoded["speaker"]),
        }

    def probabilities(self, hidden: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            logits, _ = self.model.heads_from_pooled(torch.from_numpy(hidden))
        return torch.softmax(logits.float(), dim=-1).numpy()


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


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
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
            subset = None if label_set == "shared" else label_set.split(",")
            row = scores(encoder, head, encoded, decoded.features["emotion"].names, subset)
            results.append({"test": test.name, "label_set": label_set} | row)
            logger.info(
                "%s (%s): clip %.3f, adaptive %.3f", test.name, label_set, row["clip_ua"], row["adaptive_ua"]
            )
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.with_suffix(".json").write_text(json.dumps({"head": chosen, "results": results}, indent=1))
    command = "python benchmarks/speaker_adaptive.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    lines = [
        f"## Clip-by-clip and speaker-adaptive UA: {model_name}",
        "",
        f"Model: {model_name}; speaker-adaptive head fitted on the train speakers of {trained_on(args.train)}, C={chosen['adaptive_C']:g} "
        f"chosen on its validation speakers (validation UA {chosen['validation_adaptive_ua']:.3f}). "
        f"Machine: {describe_machine()}. Date: {started}.",
        "",
        "| test set | labels | clips (speakers) | clip by clip UA | speaker-adaptive UA |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['test']} | {', '.join(r['labels'])} | {r['clips']} ({r['speakers']}) | "
            f"{r['clip_ua']:.3f} | {r['adaptive_ua']:.3f} |"
        )
    lines += [
        "",
        "Speaker-adaptive: each test speaker's pooled encoder features standardised on all of that speaker's "
        "scored clips (transductive: it needs several clips of a speaker, and misleads when they are not varied).",
        "",
        f"Command: `{command}`",
        "",
    ]
    output.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
