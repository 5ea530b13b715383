"""``hf-emotion card``: write the cross-corpus matrix into a trained model folder's card (README.md).

The general model is trained before the matrix that estimates how its recipe does on unseen corpora,
so its card gets the "Unseen corpora" section afterwards::

    hf-emotion card --model outputs/whisper-tiny.en-general \\
        --cross_corpus benchmarks/results/cross_corpus_matrix.json \\
        --corpora ravdess_speech ravdess_song crema_d

The rest of the card is kept; the section and its ``model-index`` entries are replaced if present.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..evaluation.unseen_corpora import RAVDESS_CHANNELS

MATRIX_CORPORA = (*RAVDESS_CHANNELS, "crema_d")


def add_arguments(parser) -> None:
    parser.add_argument("--model", required=True, help="a trained model folder holding its README.md card")
    parser.add_argument(
        "--cross_corpus", required=True, help="the matrix JSON of benchmarks/cross_corpus_matrix.py"
    )
    parser.add_argument(
        "--corpora",
        nargs="+",
        choices=MATRIX_CORPORA,
        help="the corpora the model trained on (default: the card's training_corpora, when they name them "
        "unambiguously)",
    )


def card_corpora(datasets) -> list[str]:
    """The matrix corpora a card's ``datasets`` name; ``ravdess`` (either channel) cannot say which."""
    from ..errors import ConfigurationError

    unclear = [name for name in datasets or [] if name not in MATRIX_CORPORA]
    if unclear or not datasets:
        raise ConfigurationError(
            f"the card's datasets {datasets} do not say which corpora of the matrix the model trained on; "
            f"pass --corpora (of {', '.join(MATRIX_CORPORA)})"
        )
    return list(dict.fromkeys(datasets))


def corpora_mismatch(datasets, corpora) -> str | None:
    """How ``--corpora`` disagrees with the datasets the card says the model trained on, or None.

    A card's ``ravdess`` stands for either RAVDESS channel or both. A card without datasets cannot disagree.
    """
    datasets = [datasets] if isinstance(datasets, str) else list(datasets or [])
    if not datasets:
        return None
    ravdess = "ravdess" in datasets
    extra = [c for c in corpora if c not in datasets and not (ravdess and c in RAVDESS_CHANNELS)]
    left_out = [
        d
        for d in dict.fromkeys(datasets)
        if d not in corpora and not (d == "ravdess" and set(corpora) & set(RAVDESS_CHANNELS))
    ]
    if not extra and not left_out:
        return None
    differences = [f"{', '.join(extra)} not among them" if extra else ""]
    differences.append(f"{', '.join(left_out)} not in --corpora" if left_out else "")
    return (
        f"--corpora {' '.join(corpora)}: the card says the model trained on {', '.join(dict.fromkeys(datasets))} "
        f"({'; '.join(d for d in differences if d)})"
    )


def row_base_model(row) -> str | None:
    """The Hub id a matrix row's models were fine-tuned from: as the matrix records it, else its run file's
    backbone (run files are named relative to the repository that ran the matrix)."""
    from ..hub.card import base_model_id

    if row.get("base_model"):
        return row["base_model"]
    config = row.get("config")
    if not config:
        return None
    repository = Path(__file__).resolve().parents[2]
    path = next((p for p in (Path(config), repository / config) if p.is_file()), None)
    if path is None:
        return None
    with open(path) as handle:
        backbone = json.load(handle).get("model_name_or_path")
    return base_model_id(backbone) if backbone else None


def run(args) -> int:
    from huggingface_hub import ModelCard

    from ..errors import ConfigurationError, MissingInputError
    from ..evaluation.unseen_corpora import other_recipe_row, read_matrix, update_card

    path = os.path.join(args.model, "README.md")
    if not os.path.isfile(path):
        raise MissingInputError(f"--model {args.model}: no README.md card; give a model folder a run wrote")
    matrix = read_matrix(args.cross_corpus)
    if matrix is None:
        raise MissingInputError(
            f"--cross_corpus {args.cross_corpus}: no such file; run benchmarks/cross_corpus_matrix.py first"
        )
    card = ModelCard.load(path)
    # Cards name their corpora in training_corpora; older ones in datasets.
    trained = card.data.get("training_corpora") or card.data.datasets
    corpora = args.corpora or card_corpora(trained)
    problem = corpora_mismatch(trained, corpora)
    if problem:
        raise ConfigurationError(f"{problem}; pass the corpora --model {args.model} trained on")
    row_base_models = {name: row_base_model(row) for name, row in matrix.get("rows", {}).items()}
    problem = other_recipe_row(matrix, corpora, card.data.base_model, row_base_models)
    if problem:
        raise ConfigurationError(
            f"--cross_corpus {args.cross_corpus}: {problem}; its numbers are not this model's recipe: give the "
            "matrix made with this model's backbone"
        )
    update_card(card, matrix, corpora).save(path)
    print(f"wrote the Unseen corpora section ({', '.join(corpora)}) into {path}")
    return 0
