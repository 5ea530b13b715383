"""``hf-emotion demo [--model M] [--examples_from DIR] [--port P] [--share]``: start the Gradio demo locally."""

from __future__ import annotations

import argparse
import logging

from ..errors import UserError

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        action="append",
        default=None,
        help="trained model folder or Hub id (default: $HF_EMOTION_MODEL, else ./model, else "
        "outputs/whisper-tiny.en-general, else outputs/whisper-tiny.en-ravdess-speech); repeated "
        "(--model A --model B), their ensemble is served",
    )
    parser.add_argument(
        "--examples_from",
        action="append",
        default=None,
        metavar="DATA_DIR",
        help="corpus folder to take example clips of the model's test speakers from, one per corpus it "
        "trained on (default: the folders its run recorded; none found: synthetic tones)",
    )
    parser.add_argument(
        "--port", type=int, default=None, help="port (default: gradio's, 7860 or the next free)"
    )
    parser.add_argument("--host", default=None, help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, ...")


def run(args: argparse.Namespace) -> int:
    try:
        from ..app import demo as demo_app
    except ImportError as error:
        logger.error("the demo needs gradio (%s): pip install 'hf-emotion[demo]'", error)
        return 2
    from ..hub.example_picking import check_examples_from

    check_examples_from(args.examples_from)  # before the model loads
    try:
        demo = demo_app.build_demo_for(args.model, examples_from=args.examples_from, device=args.device)
    except UserError:  # already one line naming the file or argument
        raise
    except (OSError, ValueError) as error:
        logger.error("cannot start the demo: %s", error)
        return 2
    demo_app.launch(demo, server_name=args.host, server_port=args.port, share=args.share)
    return 0
