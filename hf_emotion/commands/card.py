"""``hf-emotion card``: write the cross-corpus matrix into a trained model folder's card (README.md).

The general model is trained before the matrix that estimates how its recipe does on unseen corpora,
so its card gets the "Unseen corpora" section afterwards::

    hf-emotion card --model outputs/whisper-tiny.en-general \\
        --cross_corpus benchmarks/results/cross_corpus_matrix.json \\
        --corpora ravdess_speech ravdess_song crema_d

The rest of the card is kept; the section and its ``model-index`` entries are replaced if present.
"""

from __future__ import annotations

import os

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


def run(args) -> int:
    from huggingface_hub import ModelCard

    from ..errors import MissingInputError
    from ..evaluation.unseen_corpora import read_matrix, update_card

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
    corpora = args.corpora or card_corpora(card.data.get("training_corpora") or card.data.datasets)
    update_card(card, matrix, corpora).save(path)
    print(f"wrote the Unseen corpora section ({', '.join(corpora)}) into {path}")
    return 0
