"""The corpus-choosing arguments of the commands that read labelled corpora (``evaluate``, ``adapt``), named and
defaulted as in finetune.py, and the corpora they choose."""

from __future__ import annotations


def add_corpus_arguments(parser) -> None:
    parser.add_argument("--dataset", nargs="+", default=["ravdess"], help="corpora, as in finetune.py")
    parser.add_argument("--data_dir", nargs="*", default=[], help="one folder per --dataset")
    parser.add_argument(
        "--ravdess_channel", default="both", choices=("speech", "song", "both"), help="as in finetune.py"
    )
    parser.add_argument(
        "--crema_d_labels", default="intended", choices=("intended", "perceived"), help="as in finetune.py"
    )


def load_chosen_corpora(args):
    """The undecoded clips of ``--dataset``/``--data_dir``, with the channel and label source chosen."""
    from ..corpora import load_corpora

    return load_corpora(
        args.dataset, args.data_dir, channel=args.ravdess_channel, label_source=args.crema_d_labels
    )
