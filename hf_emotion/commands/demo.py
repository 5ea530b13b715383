"""``hf-emotion demo [--model M] [--port P] [--share]``: start the Gradio demo (``demo/app.py``) locally."""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
from pathlib import Path
from types import ModuleType

logger = logging.getLogger(__name__)

APP_PATH = Path(__file__).resolve().parents[2] / "demo" / "app.py"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        action="append",
        default=None,
        help="trained model folder or Hub id (default: $HF_EMOTION_MODEL, else the app's); repeated "
        "(--model A --model B), their ensemble is served",
    )
    parser.add_argument(
        "--port", type=int, default=None, help="port (default: gradio's, 7860 or the next free)"
    )
    parser.add_argument("--host", default=None, help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, ...")


def load_app(model: str | list[str] | None = None) -> ModuleType:
    """Import ``demo/app.py`` from the repository (it is not part of the installed package).

    With ``model`` given (one, or a list for an ensemble), the app's import-time load uses it
    (through ``$HF_EMOTION_MODEL``, comma-separated).
    """
    if model is not None and not isinstance(model, (str, os.PathLike)):
        model = ",".join(os.fspath(m) for m in model)
    if not APP_PATH.is_file():
        raise FileNotFoundError(
            f"{APP_PATH}: the demo app is not here; run from a checkout of the repository"
        )
    previous = os.environ.get("HF_EMOTION_MODEL")
    if model:
        os.environ["HF_EMOTION_MODEL"] = str(model)
    try:
        spec = importlib.util.spec_from_file_location("hf_emotion_demo_app", APP_PATH)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        if previous is None:
            os.environ.pop("HF_EMOTION_MODEL", None)
        else:
            os.environ["HF_EMOTION_MODEL"] = previous
    return module


def run(args: argparse.Namespace) -> int:
    try:
        import gradio  # noqa: F401
    except ImportError:
        logger.error("the demo needs gradio: pip install 'hf-emotion[demo]'")
        return 2
    try:
        app = load_app(args.model)
        recognizer = app.recognizer if args.device == "cpu" else None
        recognizer = recognizer or app.load_recognizer(args.model, device=args.device)
    except (OSError, ValueError) as error:
        logger.error("cannot start the demo: %s", error)
        return 2
    app.build_demo(recognizer).launch(
        server_name=args.host,
        server_port=args.port,
        share=args.share,
        max_file_size=f"{int(app.MAX_FILE_MB)}mb",
    )
    return 0
