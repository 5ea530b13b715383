"""Argument heads the benchmarks share.

Models and corpora are named on the command line: ``--model name=folder``, ``--data corpus=folder`` and
``--test name=dataset:folder[:splits.json]`` (:class:`benchmarks.common.test_sets.TestSet`). Everything after a
bare ``--`` goes to finetune.py unchanged (``run_finetune run``, ``cross_corpus_matrix``).
"""

from __future__ import annotations

import argparse

from benchmarks.common.paths import RESULTS
from benchmarks.common.test_sets import TestSet


def described_parser(doc: str) -> argparse.ArgumentParser:
    """A parser whose ``--help`` shows the module docstring as written (its usage examples included)."""
    return argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)


def named_path(value: str) -> tuple[str, str]:
    """``--model name=folder`` → ``(name, folder)``."""
    name, _, path = value.partition("=")
    if not path:
        raise argparse.ArgumentTypeError(f"--model {value!r}: write name=folder")
    return name, path


def key_value(value: str) -> tuple[str, str]:
    """``NAME=PATH`` → ``(NAME, PATH)``, both required."""
    key, _, path = value.partition("=")
    if not key or not path:
        raise argparse.ArgumentTypeError(f"{value!r}: write NAME=PATH")
    return key, path


def add_models(parser: argparse.ArgumentParser, *, repeated: bool, help: str | None = None) -> None:
    """``--model name=folder``, once or repeated."""
    if repeated:
        parser.add_argument(
            "--model", type=named_path, action="append", required=True, help=help or "name=folder, repeated"
        )
    else:
        parser.add_argument("--model", type=named_path, required=True, help=help or "name=folder")


def add_test_sets(parser: argparse.ArgumentParser, *, repeated: bool = True) -> None:
    """``--test name=dataset:folder[:splits.json]``, repeated unless said otherwise."""
    parser.add_argument(
        "--test",
        type=TestSet.parse,
        action="append" if repeated else "store",
        required=True,
        help="name=dataset:folder[:splits.json]",
    )


def add_label_sets(parser: argparse.ArgumentParser) -> None:
    """``--labels``: the label sets to score, one table each."""
    parser.add_argument(
        "--labels",
        nargs="+",
        default=["shared"],
        help="label sets, one table each: 'shared' (all labels both sides have) or a comma-separated subset",
    )


def add_scoring(parser: argparse.ArgumentParser) -> None:
    """``--batch_size`` and ``--max_seconds`` (clips are cut to it, as evaluation does)."""
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--max_seconds", type=float, default=20.0)


def add_output(parser: argparse.ArgumentParser, name: str) -> None:
    """``--output``, by default ``benchmarks/results/<name>``."""
    parser.add_argument("--output", default=str(RESULTS / name))


def scoring_parser(
    doc: str, *, repeated_models: bool, model_help: str | None = None
) -> argparse.ArgumentParser:
    """The head of the benchmarks that score trained models on named test sets: ``--model`` (once or
    repeated), ``--test`` (repeated), ``--labels``, ``--batch_size`` and ``--max_seconds``."""
    parser = described_parser(doc)
    add_models(parser, repeated=repeated_models, help=model_help)
    add_test_sets(parser)
    add_label_sets(parser)
    add_scoring(parser)
    return parser


def split_finetune_args(argv: list[str]) -> tuple[list[str], list[str]]:
    """A command line cut at its first bare ``--``: (the benchmark's own arguments, finetune.py's)."""
    if "--" not in argv:
        return argv, []
    split = argv.index("--")
    return argv[:split], argv[split + 1 :]
