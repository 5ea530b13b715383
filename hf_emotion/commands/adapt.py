"""``hf-emotion adapt``: add a speaker-adaptive head to a trained model folder.

The head (:mod:`hf_emotion.training.speaker_adaptive_head`) is fitted on the split's training and validation speakers,
each standardised on their own clips, and written beside the model's config.json. The model's own
weights are not changed; ``EmotionRecognizer.from_pretrained(folder)(clips, speaker=...)`` then uses it.
"""

from __future__ import annotations

import json
import logging
import os

from .corpus_arguments import add_corpus_arguments, load_chosen_corpora

logger = logging.getLogger(__name__)


def add_arguments(parser) -> None:
    from ..serving.speaker_adaptive import DEFAULT_MAX_SECONDS

    parser.add_argument(
        "--model", required=True, help="a trained hf-emotion model folder (the head is added to it)"
    )
    add_corpus_arguments(parser)
    parser.add_argument(
        "--split_file",
        required=True,
        help="the model's splits.json: the head is fitted on its training speakers, its C chosen on its "
        "validation speakers; its test speakers are never read",
    )
    parser.add_argument(
        "--output_dir", help="write the head here instead of into --model (e.g. a read-only model folder)"
    )
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument(
        "--max_seconds", type=float, default=DEFAULT_MAX_SECONDS, help="clips are cut to this long"
    )


def run(args) -> int:
    from transformers import AutoFeatureExtractor

    from ..data.decode_cache import decode_dataset
    from ..data.splits import Split
    from ..errors import ConfigurationError, MissingInputError
    from ..model.batches import with_model_columns
    from ..model.modeling_emotion import EmotionModel
    from ..training.speaker_adaptive_head import fit_head_for_model

    if not os.path.isfile(os.path.join(args.model, "config.json")):
        raise MissingInputError(f"--model {args.model}: no config.json; give a trained model folder")
    split = Split.from_json(args.split_file)
    if split.protocol == "random" or not split.train or not split.validation:
        raise ConfigurationError(
            f"--split_file {args.split_file}: the head needs a speaker split with training and validation "
            "speakers (protocol speaker_folds or fixed)"
        )
    model = EmotionModel.from_pretrained(args.model).eval()
    extractor = AutoFeatureExtractor.from_pretrained(args.model)
    names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    raw = load_chosen_corpora(args)
    wanted = set(split.train) | set(split.validation)
    unknown = sorted(wanted - set(raw["speaker"]))
    if unknown:
        raise ConfigurationError(
            f"--split_file {args.split_file}: speakers {unknown} are not in --dataset {args.dataset}"
        )
    raw = raw.filter(lambda s: s in wanted, input_columns="speaker")
    missing = sorted(set(raw.features["emotion"].names) - set(names))
    if missing:
        raise ConfigurationError(
            f"the data has labels {missing} that {args.model} does not predict ({names})"
        )
    decoded, skipped = decode_dataset(on_model_labels(raw, names), extractor.sampling_rate)
    decoded = with_model_columns(decoded)
    parts = {"train": _only(decoded, split.train), "validation": _only(decoded, split.validation)}
    head, metrics = fit_head_for_model(
        model,
        extractor,
        parts["train"],
        parts["validation"],
        max_seconds=args.max_seconds,
        batch_size=args.batch_size,
    )
    output_dir = args.output_dir or args.model
    os.makedirs(output_dir, exist_ok=True)
    path = head.save(output_dir)
    metrics |= {
        "train_clips": len(parts["train"]),
        "validation_clips": len(parts["validation"]),
        "skipped_files": [b.as_dict() for b in skipped],
    }
    logger.info("wrote %s (validation UA %.3f, C %g)", path, metrics["validation_adaptive_ua"], head.C)
    print(json.dumps(metrics, indent=2))
    return 0


def _only(dataset, speakers):
    """The clips of these speakers."""
    members = set(speakers)
    return dataset.filter(lambda s: s in members, input_columns="speaker")


def on_model_labels(dataset, names):
    """The ``emotion`` column re-indexed onto the model's label names (a superset of the data's)."""
    import datasets

    data_names = dataset.features["emotion"].names
    ids = [names.index(data_names[i]) for i in dataset.with_format(None)["emotion"]]
    feature = datasets.ClassLabel(names=list(names))
    return dataset.remove_columns("emotion").add_column("emotion", ids, feature=feature)
