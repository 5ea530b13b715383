"""``hf-emotion export --model M --out DIR``: the model as ONNX (optionally int8) for onnxruntime.

Example::

    hf-emotion export --model outputs/whisper-tiny.en-ravdess-speech --out exports/tiny-int8 --quantize int8
    hf-emotion predict clip.wav --model exports/tiny-int8
"""

from __future__ import annotations

import argparse
import logging

from ..errors import MissingDependencyError
from ..preflight import check_new_folder

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from hf_emotion.serving.export import DEFAULT_OPSET, QUANTIZE_CHOICES

    parser.add_argument("--model", required=True, help="trained model folder (with its feature extractor)")
    parser.add_argument("--out", required=True, help="folder to write model.onnx, config and card into")
    parser.add_argument(
        "--quantize",
        choices=QUANTIZE_CHOICES,
        default=None,
        help="int8: dynamic int8 weights (~1/4 the size)",
    )
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET, help="ONNX opset version")
    parser.add_argument(
        "--dynamo",
        action="store_true",
        help="use torch.onnx's torch.export-based exporter (slower to export)",
    )


def missing_dependency_message(error: ImportError) -> str:
    """One line for a package export needs but cannot import (onnxruntime's quantiser imports more than itself)."""
    if "hf-emotion[onnx]" in str(error):
        return str(error)
    return (
        f"{error}: hf-emotion export needs it; pip install 'hf-emotion[onnx]' installs what export needs "
        "(hf-emotion --debug export ... shows where it is imported)"
    )


def run(args: argparse.Namespace) -> int:
    check_new_folder(args.out, "--out", beside=args.model)  # before torch and the model are loaded
    from hf_emotion.serving.export import export_onnx
    from hf_emotion.serving.loading import is_onnx_folder

    if is_onnx_folder(args.model):
        logger.error("--model %s is already an ONNX export; give the trained model folder", args.model)
        return 2
    try:
        export_onnx(args.model, args.out, quantize=args.quantize, opset=args.opset, dynamo=args.dynamo)
    except ImportError as error:  # a user error, but one whose traceback --debug must still show
        raise MissingDependencyError(missing_dependency_message(error)) from error
    except (OSError, ValueError) as error:
        logger.error("cannot export --model %s: %s", args.model, error)
        return 2
    return 0
