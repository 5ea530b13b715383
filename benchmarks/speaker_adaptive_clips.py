"""How many clips speaker-adaptive mode needs, when it misleads, and what centring scores alone gives.

The companion of ``benchmarks.speaker_adaptive_ua`` (clip by clip against speaker-adaptive UA); this one adds
what that table does not say.

For one fine-tuned fold model (its ``splits.json`` beside it):

1. encodes every clip of its corpus and of each ``--cross`` corpus once (pooled hidden states of every
   layer; cached in ``--cache_dir``);
2. fits the speaker-adaptive head on the fold's training and validation speakers
   (:func:`hf_emotion.serving.speaker_adaptive.fit_speaker_adaptive_head`, as ``hf-emotion adapt`` does);
3. scores the fold's test speakers and every speaker of each other corpus three ways: the model clip by
   clip (its own heads on the same pooled features), the model's log-probabilities centred per speaker,
   and the speaker-adaptive head; on another corpus over every label both sides have and over the 4
   classes angry/happy/neutral/sad, the arg-max restricted to those labels;
4. measures UA against the number of clips a speaker gives (random groups of k of a speaker's clips,
   each group standardised on itself), and the misleading case: each speaker's clips of one emotion only.

Usage::

    python -m benchmarks.speaker_adaptive_clips --model /work/models/tiny-ravdess-fold0 \\
        --corpus ravdess_speech=/work/shared/data/ravdess-speech \\
        --cross ravdess_song=/work/shared/data/ravdess-song --cross crema_d=/work/shared/data/crema-d-subset

Writes ``benchmarks/results/speaker_adaptive_clips.md`` and the head (``--head_dir``).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.common.paths import RESULTS
from hf_emotion.evaluation.machine import cpu_model
from hf_emotion.evaluation.metrics import classification_metrics
from hf_emotion.evaluation.speaker_normalisation import speaker_normalize_scores
from hf_emotion.serving.speaker_adaptive import MIN_CLIPS_PER_SPEAKER
from hf_emotion.training.speaker_adaptive_head import encode_clips, fit_speaker_adaptive_head

logger = logging.getLogger("speaker_adaptive_clips")
FOUR_CLASSES = ("angry", "happy", "neutral", "sad")
CLIP_COUNTS = (4, 5, 10, 20)
TARGET_UA = 0.65


def encode_corpus(model, extractor, name: str, data_dir: str, cache_dir: Path, max_seconds: float) -> dict:
    """Every clip of a corpus → ``hidden`` (N, L, H), ``labels`` (model ids), ``speakers``; cached as .npz."""
    from hf_emotion import load_corpus
    from hf_emotion.commands.adapt import on_model_labels
    from hf_emotion.data.decode_cache import decode_dataset
    from hf_emotion.model.batches import with_model_columns

    cache = cache_dir / f"{name}.npz"
    if cache.is_file():
        stored = np.load(cache)
        return {k: stored[k] for k in ("hidden", "labels", "speakers")}
    names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    raw = load_corpus(name, data_dir)
    decoded, skipped = decode_dataset(on_model_labels(raw, names), extractor.sampling_rate)
    if skipped:
        logger.warning("%s: %d files did not decode and are left out", name, len(skipped))
    started = time.perf_counter()
    encoded = encode_clips(model, extractor, with_model_columns(decoded), max_seconds=max_seconds)
    logger.info("%s: %d clips encoded in %.0f s", name, len(decoded), time.perf_counter() - started)
    result = {
        "hidden": encoded["hidden"],
        "labels": encoded["labels"],
        "speakers": np.array(decoded["speaker"]),
    }
    np.savez(cache, **result)
    return result


def adaptive_scores(head, hidden: np.ndarray, speakers) -> np.ndarray:
    """Log-probabilities of the speaker-adaptive head, each speaker standardised on their rows."""
    return np.log(head.probabilities(hidden, list(speakers)) + 1e-30)


def clip_by_clip_log_probabilities(model, hidden: np.ndarray) -> np.ndarray:
    """The model's own heads on pooled features: what it predicts for each clip alone."""
    with torch.no_grad():
        logits, _ = model.heads_from_pooled(torch.from_numpy(hidden).float())
    return torch.log_softmax(logits, dim=-1).numpy()


def restricted_ua(scores: np.ndarray, labels: np.ndarray, keep: list[int], names: list[str]) -> float:
    """UA over the clips whose label is in ``keep``, the arg-max taken over ``keep`` only."""
    rows = np.isin(labels, keep)
    predicted = np.array(keep)[scores[rows][:, keep].argmax(axis=1)]
    return classification_metrics(labels[rows], predicted, names)["ua"]


def three_ways(model, head, data: dict, keep: list[int], names: list[str]) -> dict[str, float]:
    """UA of clip-by-clip, per-speaker centred scores and the adaptive head on the clips of labels ``keep``
    (each speaker standardised on those clips: the ones a caller would give)."""
    rows = np.isin(data["labels"], keep)
    hidden, labels, speakers = data["hidden"][rows], data["labels"][rows], data["speakers"][rows]
    log_probabilities = clip_by_clip_log_probabilities(model, hidden)
    return {
        "clip": restricted_ua(log_probabilities, labels, keep, names),
        "centred": restricted_ua(speaker_normalize_scores(log_probabilities, speakers), labels, keep, names),
        "adaptive": restricted_ua(adaptive_scores(head, hidden, speakers), labels, keep, names),
    }


def ua_by_clip_count(
    head, data: dict, keep: list[int], names: list[str], repeats: int = 10
) -> dict[int, float]:
    """Mean UA when each speaker is standardised on random groups of k of their clips (every clip once a
    repeat; a speaker's last, smaller group joins the one before it)."""
    rows = np.isin(data["labels"], keep)
    hidden, labels, speakers = data["hidden"][rows], data["labels"][rows], data["speakers"][rows]
    rng = np.random.default_rng(0)
    result = {}
    for k in CLIP_COUNTS:
        uas = []
        for _ in range(repeats):
            groups = np.empty(len(labels), dtype=object)
            for speaker in np.unique(speakers):
                members = rng.permutation(np.flatnonzero(speakers == speaker))
                number = max(1, len(members) // k)
                for g, chunk in enumerate(np.array_split(members, number)):
                    groups[chunk] = f"{speaker}/{g}"
            uas.append(restricted_ua(adaptive_scores(head, hidden, groups.astype(str)), labels, keep, names))
        result[k] = float(np.mean(uas))
    return result


def one_emotion_only(model, head, data: dict, names: list[str]) -> list[tuple[str, float, float, int]]:
    """For each emotion: accuracy clip by clip and adaptive when each speaker gives only clips of that emotion."""
    log_probabilities = clip_by_clip_log_probabilities(model, data["hidden"])
    rows_out = []
    for label in np.unique(data["labels"]):
        rows = data["labels"] == label
        speakers = data["speakers"][rows]
        counts = {s: int((speakers == s).sum()) for s in np.unique(speakers)}
        if min(counts.values()) < MIN_CLIPS_PER_SPEAKER:
            continue
        clip = float((log_probabilities[rows].argmax(axis=1) == label).mean())
        adaptive = float(
            (adaptive_scores(head, data["hidden"][rows], speakers).argmax(axis=1) == label).mean()
        )
        rows_out.append((names[label], clip, adaptive, int(rows.sum())))
    return rows_out


def main() -> None:
    from transformers import AutoFeatureExtractor

    from hf_emotion import EmotionModel
    from hf_emotion.data.splits import Split

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a fine-tuned fold model folder with splits.json")
    parser.add_argument("--corpus", required=True, help="NAME=DIR of the corpus the model was trained on")
    parser.add_argument("--cross", action="append", default=[], help="NAME=DIR of a corpus it never saw")
    parser.add_argument("--cache_dir", default="outputs/speaker_adaptive_features")
    parser.add_argument(
        "--head_dir", default="outputs/speaker_adaptive_head", help="where the fitted head goes"
    )
    parser.add_argument("--max_seconds", type=float, default=20.0)
    parser.add_argument("--output", default=str(RESULTS / "speaker_adaptive_clips.md"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))

    model = EmotionModel.from_pretrained(args.model).eval()
    extractor = AutoFeatureExtractor.from_pretrained(args.model)
    names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    split = Split.from_json(os.path.join(args.model, "splits.json"))
    cache_dir = Path(args.cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    corpus_name, corpus_dir = args.corpus.split("=", 1)
    home = encode_corpus(model, extractor, corpus_name, corpus_dir, cache_dir, args.max_seconds)
    parts = {p: np.isin(home["speakers"], getattr(split, p)) for p in ("train", "validation", "test")}
    head, fit_metrics = fit_speaker_adaptive_head(
        *[
            (home["hidden"][parts[p]], home["labels"][parts[p]].tolist(), home["speakers"][parts[p]].tolist())
            for p in ("train", "validation")
        ],
        names,
    )
    os.makedirs(args.head_dir, exist_ok=True)
    head.save(args.head_dir)
    test = {k: v[parts["test"]] for k, v in home.items()}
    everything = list(range(len(names)))
    results = {"in-corpus": {"all": three_ways(model, head, test, everything, names)}}
    by_count = {f"{corpus_name} test speakers": ua_by_clip_count(head, test, everything, names)}
    misleading = one_emotion_only(model, head, test, names)
    corpora = {}
    for spec in args.cross:
        name, data_dir = spec.split("=", 1)
        data = encode_corpus(model, extractor, name, data_dir, cache_dir, args.max_seconds)
        shared = sorted(set(data["labels"].tolist()))
        four = [names.index(n) for n in FOUR_CLASSES]
        corpora[name] = (data, shared)
        results[name] = {
            "all": three_ways(model, head, data, shared, names),
            "4": three_ways(model, head, data, four, names),
        }
        by_count[f"{name}, shared labels"] = ua_by_clip_count(head, data, shared, names)
    write_report(args, names, split, head, fit_metrics, home, corpora, results, by_count, misleading)


def write_report(args, names, split, head, fit_metrics, home, corpora, results, by_count, misleading) -> None:
    command = "OMP_NUM_THREADS=1 python -m benchmarks.speaker_adaptive_clips " + " ".join(sys.argv[1:])
    lines = [
        "# Speaker-adaptive mode: clips per speaker, the misleading case, centred scores",
        "",
        f"Model `{args.model}` (fold {split.fold}; test speakers {', '.join(split.test)}). Machine: "
        f"{cpu_model()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
        f"    {command}",
        "",
        f"Speaker-adaptive head fitted on the fold's {len(split.train)} training and {len(split.validation)} "
        f"validation speakers ({int(sum(np.isin(home['speakers'], split.train + split.validation)))} clips): "
        f"C {head.C:g} chosen on validation UA {fit_metrics['validation_adaptive_ua']:.3f}. "
        "Every number below is UA (unweighted average recall). *clip by clip*: the fine-tuned model's own "
        "heads, each clip alone; *scores centred*: its log-probabilities minus the speaker's mean "
        "(transductive); *speaker-adaptive*: the head on features z-scored on each speaker's clips "
        "(transductive: a speaker's prediction uses all of that speaker's clips in the set). On other corpora "
        "the arg-max is restricted to the labels scored, and each speaker is standardised on their clips "
        "of those labels.",
        "",
        "| test set | labels | clips | speakers | clip by clip | scores centred | speaker-adaptive |",
        "|---|---|---|---|---|---|---|",
    ]
    test_rows = np.isin(home["speakers"], split.test)
    sets = {"in-corpus": (home["labels"][test_rows], home["speakers"][test_rows], list(range(len(names))))}
    for name, (data, shared) in corpora.items():
        sets[name] = (data["labels"], data["speakers"], shared)
    for name, by_labels in results.items():
        labels, speakers, shared = sets[name]
        for which, row in by_labels.items():
            keep = shared if which == "all" else [names.index(n) for n in FOUR_CLASSES]
            rows = np.isin(labels, keep)
            title = f"{args.corpus.split('=')[0]} test speakers" if name == "in-corpus" else name
            lines.append(
                f"| {title} | {len(keep)}: {' '.join(names[i] for i in keep)} | {int(rows.sum())} | "
                f"{len(np.unique(speakers[rows]))} | {row['clip']:.3f} | {row['centred']:.3f} | "
                f"{row['adaptive']:.3f} |"
            )
    cross = [by["all"]["adaptive"] for name, by in results.items() if name != "in-corpus"]
    met = cross and min(cross) >= TARGET_UA
    lines += [
        "",
        f"Target (issue 17): speaker-adaptive UA ≥ {TARGET_UA} on corpora never trained on, over all shared "
        f"labels: **{'met' if met else 'not met'}** ({', '.join(f'{v:.3f}' for v in cross)}).",
        "",
        "## UA against the number of clips a speaker gives",
        "",
        "Each speaker's clips cut at random into groups of k, each group standardised on itself (10 draws, "
        "mean UA); *all* is the table above.",
        "",
        "| test set | " + " | ".join(f"k = {k}" for k in CLIP_COUNTS) + " |",
        "|---|" + "---|" * len(CLIP_COUNTS),
    ]
    for name, row in by_count.items():
        lines.append(f"| {name} | " + " | ".join(f"{row[k]:.3f}" for k in CLIP_COUNTS) + " |")
    lines += [
        "",
        "## When it misleads: a speaker who gives clips of one emotion only",
        "",
        f"{args.corpus.split('=')[0]} test speakers, each standardised on their clips of one emotion only; "
        "the share of those clips labelled with that emotion.",
        "",
        "| emotion | clips | clip by clip | speaker-adaptive |",
        "|---|---|---|---|",
    ]
    for emotion, clip, adaptive, count in misleading:
        lines.append(f"| {emotion} | {count} | {clip:.3f} | {adaptive:.3f} |")
    Path(args.output).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
