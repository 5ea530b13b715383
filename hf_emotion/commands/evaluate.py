"""``hf-emotion evaluate``: score a trained model on a corpus, by speaker, with the project's metrics."""

from __future__ import annotations

import json
import logging
import os

from ..preflight import check_output_folder
from .corpus_arguments import add_corpus_arguments, load_chosen_corpora

logger = logging.getLogger(__name__)


def add_arguments(parser) -> None:
    parser.add_argument(
        "--model",
        required=True,
        action="append",
        help="trained hf-emotion model folder or Hub id; repeated (--model A --model B), their ensemble is "
        "scored: the mean of their probabilities and valence/arousal (each model's own UA too, as member_eval_ua)",
    )
    add_corpus_arguments(parser)
    parser.add_argument("--split_file", help="a run's splits.json: evaluate on its test speakers")
    parser.add_argument("--speakers", nargs="*", help="evaluate on these speakers only")
    parser.add_argument(
        "--output_dir",
        default=None,
        help="where metrics, predictions and plots go (default: evaluations/<model>-on-<datasets>)",
    )
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--max_seconds", type=float, default=20.0, help="clips are cut to this long")
    parser.add_argument(
        "--speaker_norm_probe",
        action="store_true",
        help="also score a logistic regression on the model's encoder features standardised per speaker "
        "(transductive: uses each test speaker's clips as a whole; needs --split_file for its training and "
        "validation speakers); reported as eval_spkprobe_*, with eval_lrprobe_* for the same classifier "
        "without the per-speaker statistics",
    )
    parser.add_argument(
        "--speaker_adaptive",
        action="store_true",
        help="also score the model's speaker-adaptive head (speaker_adaptive_head.npz, from hf-emotion adapt or "
        "--speaker_adaptive_head in training) on the evaluated speakers, each standardised on all their own "
        "clips (transductive); reported as eval_adaptive_*, apart from the clip-by-clip eval_*",
    )
    parser.add_argument(
        "--labels",
        help="comma-separated labels to score, e.g. angry,happy,neutral,sad (each a label of both the model "
        "and the data): the arg-max runs over these only and UA averages over them. Without it, data whose "
        "labels differ from the model's (another corpus) is scored over the labels both have, and the "
        "labels each side loses are reported",
    )
    parser.add_argument(
        "--condition",
        nargs="+",
        default=[],
        help="also score under these recording conditions (white:<SNR dB>, babble:<SNR dB>, reverb:<RT60 s>, "
        "telephone, mp3:<kbit/s>, and the framings trim:<energy|vad>, silence:<s>, noise:<s>; steps join with +; "
        "see hf_emotion/data/conditions.py), each reported as eval_<condition>_ua and ua_drop_<condition> (clean "
        "UA minus that one), e.g. --condition babble:10 telephone trim:vad trim:vad+silence:0.5",
    )


def default_output_dir(models: list[str], datasets: list[str]) -> str:
    """``evaluations/<model>-on-<datasets>``: one folder per model and data, so runs do not overwrite each other."""
    model = "+".join(os.path.basename(os.path.normpath(m)) or m.replace("/", "--") for m in models)
    data = "+".join(os.path.basename(os.path.normpath(d)) for d in datasets)
    return os.path.join("evaluations", f"{model}-on-{data}")


def run(args) -> int:
    """Check the arguments, keep the speakers asked for, then score through the path the labels call for."""
    from ..data.splits import Split

    _check_arguments(args)
    if args.output_dir is None:
        args.output_dir = default_output_dir(args.model, args.dataset)
        check_output_folder(args.output_dir)
        logger.info("writing to %s (--output_dir to choose)", args.output_dir)
    raw = load_chosen_corpora(args)
    split = Split.from_json(args.split_file) if args.split_file else None
    if args.speaker_norm_probe and (split is None or split.protocol == "random"):
        raise SystemExit(
            "--speaker_norm_probe needs --split_file with a speaker split: the probe is fitted on its "
            "training and validation speakers"
        )
    from_split = _of_loaded_corpora(raw, set(split.test if split else []) | _probe_speakers(args, split))
    speakers = set(args.speakers or []) | (set(split.test) & from_split if split else set())
    raw = _keep_speakers(raw, speakers | from_split)
    data_names = raw.features["emotion"].names
    if args.labels or args.condition or set(data_names) != set(_model_labels(args.model[0])):
        if args.speaker_norm_probe:
            raise SystemExit(
                "--speaker_norm_probe scores a model on its own corpus and labels, clean; leave out --labels "
                "and --condition, or evaluate on data with the model's labels"
            )
        return _run_cross_corpus(args, raw)
    return _run_same_labels(args, raw, split, speakers)


def _check_arguments(args) -> None:
    """What can be refused before any audio is read: flags that need one model, a head, known conditions."""
    from ..data.conditions import parse_steps

    if args.speaker_norm_probe and len(args.model) > 1:
        raise SystemExit("--speaker_norm_probe scores one model's encoder features; give one --model")
    if args.speaker_adaptive:
        _check_speaker_adaptive(args.model)
    if args.labels is not None and len(set(_label_subset(args.labels))) < 2:
        raise SystemExit(
            f"--labels {args.labels}: give at least two labels, comma-separated (over one label every clip is "
            "scored right: UA 1.0 for any model)"
        )
    for spec in args.condition:  # before any decoding: a typo fails at once
        try:
            parse_steps(spec)
        except ValueError as error:
            raise SystemExit(f"--condition: {error}") from error


def _label_subset(labels: str) -> list[str]:
    """``--labels angry,happy`` as a list of names."""
    return [label.strip() for label in labels.split(",") if label.strip()]


def _probe_speakers(args, split) -> set[str]:
    """The speakers the speaker-normalised probe is fitted on, besides the evaluated ones."""
    return set(split.train) | set(split.validation) if args.speaker_norm_probe else set()


def _of_loaded_corpora(raw, split_speakers: set[str]) -> set[str]:
    """The split's speakers of the corpora loaded here. A run on several corpora (the general run file) names
    every corpus's speakers (``crema_d-1001``, ``ravdess-05``); evaluating on one corpus leaves the others'
    out, with a line saying so. Speakers of a loaded corpus that are missing stay an error (``_keep_speakers``)."""

    def corpus(speaker: str) -> str:  # the loaders name speakers "<corpus>-<id>"
        return speaker.partition("-")[0]

    loaded = {corpus(speaker) for speaker in set(raw["speaker"])}
    # a random split lists clip indices, not speakers: left to _keep_speakers, as before
    other = {s for s in split_speakers if isinstance(s, str) and corpus(s) not in loaded}
    if other:
        logger.info(
            "--split_file: %d speaker(s) of %s left out: that corpus is not loaded here",
            len(other),
            ", ".join(sorted({corpus(s) for s in other})),
        )
    return split_speakers - other


def _keep_speakers(raw, keep: set[str]):
    """The clips of these speakers (all clips when none are named); unknown speakers are an error."""
    if not keep:
        return raw
    unknown = keep - set(raw["speaker"])
    if unknown:
        raise SystemExit(f"speakers {sorted(unknown)} are not in the data")
    return raw.filter(lambda s: s in keep, input_columns="speaker")


def _run_same_labels(args, raw, split, speakers: set[str]) -> int:
    """Data with the model's own labels: every model's predictions through the evaluation Trainer (their mean
    for an ensemble), with the probe and the head's scores when asked for."""
    import numpy as np
    from transformers import AutoFeatureExtractor

    from ..data.decode_cache import decode_dataset
    from ..evaluation.reports import average_predictions, predict_dataset, record_metrics, save_predictions
    from ..model.batches import with_model_columns
    from ..model.modeling_emotion import EmotionModel
    from ..training.trainer import evaluation_trainer

    data_names = raw.features["emotion"].names
    models = [EmotionModel.from_pretrained(name).eval() for name in args.model]
    extractors = [AutoFeatureExtractor.from_pretrained(name) for name in args.model]
    names = _check_same_labels(args.model, models, extractors, data_names)
    # Re-index the data's labels onto the model's.
    raw = raw.map(
        lambda e: {"emotion": [names.index(data_names[i]) for i in e]}, input_columns="emotion", batched=True
    )
    decoded, skipped = decode_dataset(raw, extractors[0].sampling_rate)
    decoded = with_model_columns(decoded)
    dataset = decoded.filter(lambda s: s in speakers, input_columns="speaker") if speakers else decoded
    os.makedirs(args.output_dir, exist_ok=True)
    records, member_ua = [], []
    for name, member, member_extractor in zip(args.model, models, extractors, strict=True):
        trainer = evaluation_trainer(
            member, member_extractor, args.output_dir, args.batch_size, args.max_seconds
        )
        metrics, record = predict_dataset(trainer, dataset, names, "eval")
        records.append(record)
        member_ua.append(metrics["eval_ua"])
        if len(models) > 1:
            logger.info("%s alone: UA %.3f", name, metrics["eval_ua"])
    if len(models) > 1:
        record = average_predictions(records)
        metrics = record_metrics(record) | {"models": list(args.model), "member_eval_ua": member_ua}
        for key in ("probabilities", "valence_arousal_pred"):  # saved as a single model's are
            record[key] = np.round(record[key], 5).tolist()
    if args.speaker_norm_probe:
        metrics |= _speaker_norm_probe(
            models[0], decoded, split, trainer.data_collator, names, args.batch_size, trainer.args.device
        )
    if args.speaker_adaptive:
        metrics |= _speaker_adaptive_scores(args, dataset, names, None)
    metrics["skipped_files"] = [b.as_dict() for b in skipped]
    with open(os.path.join(args.output_dir, "all_results.json"), "w") as handle:
        json.dump(metrics, handle, indent=2)
    title = " + ".join(os.path.basename(os.path.normpath(name)) for name in args.model)
    save_predictions(record, args.output_dir, title=f"{title}: UA {metrics['eval_ua']:.3f}")
    logger.info("UA %.3f, WA %.3f on %d clips", metrics["eval_ua"], metrics["eval_wa"], len(dataset))
    print(json.dumps({k: v for k, v in metrics.items() if isinstance(v, float) and np.isfinite(v)}, indent=2))
    return 0


def _check_same_labels(model_names: list[str], models, extractors, data_names: list[str]) -> list[str]:
    """The first model's label names, once every model has them (and the same rate) and the data no others."""
    model, extractor = models[0], extractors[0]
    names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    for name, other, other_extractor in zip(model_names[1:], models[1:], extractors[1:], strict=True):
        other_names = [other.config.id2label[i] for i in range(other.config.num_labels)]
        if other_names != names or other_extractor.sampling_rate != extractor.sampling_rate:
            raise SystemExit(
                f"{name} (labels {other_names}, {other_extractor.sampling_rate} Hz) cannot be averaged with "
                f"{model_names[0]} (labels {names}, {extractor.sampling_rate} Hz)"
            )
    missing = sorted(set(data_names) - set(names))
    if missing:
        raise SystemExit(f"the data has labels {missing} that {model_names[0]} does not predict ({names})")
    return names


def _model_labels(name: str) -> list[str]:
    from ..model.configuration_emotion import EmotionConfig

    config = EmotionConfig.from_pretrained(name)
    return [config.id2label[i] for i in range(config.num_labels)]


def _run_cross_corpus(args, raw) -> int:
    """Score through ``EmotionRecognizer`` over the labels the model and the data share, clean and degraded."""
    import numpy as np

    from ..data.decode_cache import decode_dataset
    from ..evaluation.cross_corpus import evaluate_corpus
    from ..evaluation.reports import save_predictions
    from ..serving.recognizer import EmotionRecognizer

    recognizer = EmotionRecognizer.from_pretrained(
        args.model if len(args.model) > 1 else args.model[0], batch_size=args.batch_size
    )
    subset = _label_subset(args.labels) if args.labels else None
    decoded, skipped = decode_dataset(raw, recognizer.sampling_rate)
    try:
        metrics, record = evaluate_corpus(
            recognizer,
            decoded,
            labels=subset,
            batch_size=args.batch_size,
            max_seconds=args.max_seconds,
            conditions=args.condition,
        )
    except ValueError as error:  # labels that do not match, a condition the data cannot make
        raise SystemExit(str(error)) from error
    if args.speaker_adaptive:
        metrics |= _speaker_adaptive_scores(args, decoded, raw.features["emotion"].names, subset)
    metrics["skipped_files"] = [b.as_dict() for b in skipped]
    os.makedirs(args.output_dir, exist_ok=True)
    with open(os.path.join(args.output_dir, "all_results.json"), "w") as handle:
        json.dump(metrics, handle, indent=2)
    title = " + ".join(os.path.basename(os.path.normpath(name)) for name in args.model)
    scored = metrics["scored_labels"]
    save_predictions(
        record, args.output_dir, title=f"{title}: UA {metrics['eval_ua']:.3f} over {len(scored)}"
    )
    logger.info("UA %.3f over %s on %d clips", metrics["eval_ua"], scored, metrics["eval_clips"])
    summary = {k: v for k, v in metrics.items() if isinstance(v, float) and np.isfinite(v)}
    named = ("scored_labels", "model_labels_dropped", "corpus_labels_dropped")
    named += ("adaptive_labels",) if args.speaker_adaptive else ()
    print(json.dumps(summary | {k: metrics[k] for k in named}, indent=2))
    return 0


def _check_speaker_adaptive(models: list[str]) -> None:
    """Before any audio is decoded: one model, with a head."""
    from ..model.files import SPEAKER_ADAPTIVE_HEAD_FILE as HEAD_FILE

    if len(models) > 1:
        raise SystemExit("--speaker_adaptive scores one model's speaker-adaptive head; give one --model")
    if not os.path.isfile(os.path.join(models[0], HEAD_FILE)):
        raise SystemExit(
            f"--speaker_adaptive: {models[0]} has no {HEAD_FILE}; add one with hf-emotion adapt --model "
            f"{models[0]} --dataset ... --data_dir ... --split_file {models[0]}/splits.json"
        )


def _speaker_adaptive_scores(args, decoded, data_names: list[str], labels: list[str] | None) -> dict:
    """``eval_adaptive_*`` of the model's head on the evaluated clips (``emotion`` in ``data_names`` ids), each
    speaker standardised on all their own clips of the labels the head, the data (and ``labels``) share.

    Scored as ``predict --speaker`` scores: through the recognizer's speaker-adaptive scoring (any one model,
    torch or its ONNX export), on the clips cut to ``--max_seconds``.
    """
    from ..evaluation.cross_corpus import corpus_signals
    from ..serving.recognizer import EmotionRecognizer

    recognizer = EmotionRecognizer.from_pretrained(args.model[0], batch_size=args.batch_size)
    adaptive = recognizer.speaker_adaptive()
    shared = [
        label for label in (labels or adaptive.labels) if label in adaptive.labels and label in data_names
    ]
    if not shared:
        raise SystemExit(f"--speaker_adaptive: the head's labels {adaptive.labels} and the data's share none")
    wanted = {data_names.index(label) for label in shared}
    dataset = decoded.with_format(None).filter(lambda y: y in wanted, input_columns="emotion")
    try:
        probabilities = adaptive.probabilities(
            corpus_signals(dataset, recognizer.sampling_rate, args.max_seconds),
            list(dataset["speaker"]),
            max_seconds=args.max_seconds,
        )
    except ValueError as error:  # a speaker with too few clips
        raise SystemExit(f"--speaker_adaptive: {error}") from error
    truth = [adaptive.labels.index(data_names[y]) for y in dataset["emotion"]]
    metrics = restricted_head_metrics(probabilities, truth, adaptive.labels, shared)
    logger.info(
        "Speaker-adaptive head (transductive: each speaker standardised on all their own evaluated clips, "
        "not clip by clip): UA %.3f over %s on %d clips",
        metrics["eval_adaptive_ua"],
        shared,
        len(dataset),
    )
    return metrics | {"adaptive_labels": shared}


def restricted_head_metrics(
    probabilities, truth: list[int], head_labels: list[str], shared: list[str], prefix: str = "eval_adaptive"
) -> dict[str, float]:
    """``<prefix>_<ua|wa|macro_f1|f1_label>`` over the head's labels, the arg-max restricted to ``shared``."""
    import numpy as np

    from ..evaluation.metrics import classification_metrics

    keep = [head_labels.index(name) for name in shared]
    predicted = np.asarray(keep)[probabilities[:, keep].argmax(axis=1)]
    metrics = classification_metrics(truth, predicted, head_labels)
    return {f"{prefix}_{key}": value for key, value in metrics.items()}


def _speaker_norm_probe(model, decoded, split, collator, label_names, batch_size: int, device) -> dict:
    """Encode the split's speakers once and score the per-speaker standardised probe on its test speakers."""
    from ..evaluation.speaker_normalisation import speaker_normalized_probe
    from ..training.heads import pooled_features

    features, labels, speakers = {}, {}, {}
    for part in ("train", "validation", "test"):
        members = set(getattr(split, part))
        subset = decoded.filter(lambda s, members=members: s in members, input_columns="speaker")
        encoded = pooled_features(model, subset, collator, batch_size, f"{part} clips", device=device)
        features[part], labels[part] = encoded["hidden"].numpy(), encoded["labels"].numpy()
        speakers[part] = list(subset["speaker"])
    metrics, _ = speaker_normalized_probe(features, labels, speakers, label_names)
    ablation, _ = speaker_normalized_probe(features, labels, speakers, label_names, per_speaker=False)
    logger.info(
        "Speaker-normalised probe (transductive): test UA %.3f (C %g chosen on validation UA %.3f); "
        "the same logistic regression without per-speaker statistics: test UA %.3f",
        metrics["eval_spkprobe_ua"],
        metrics["spkprobe_C"],
        metrics["validation_spkprobe_ua"],
        ablation["eval_lrprobe_ua"],
    )
    return metrics | ablation
