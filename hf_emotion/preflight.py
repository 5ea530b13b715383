"""Checks of command-line inputs that can be made before anything heavy is loaded.

A model takes seconds to load and a demo longer to build; a wrong ``--device``, a model
folder that does not exist or whose weights are damaged, a busy ``--port``, an output folder
that is a file or cannot be written, or a ``--url`` that is no URL should fail before that, in
one line naming the argument. Each check raises a
:class:`~hf_emotion.errors.UserError`; :func:`check_common_arguments` applies those that
fit the arguments a subcommand has.
"""

from __future__ import annotations

import argparse
import os
import socket
import tempfile
import urllib.parse
from pathlib import Path

from .errors import BadFileError, ConfigurationError, MissingInputError


def check_device(device: str) -> None:
    """``--device``: a device torch knows, and one this machine has.

    Raises:
        ConfigurationError: e.g. ``--device cuda`` with a CPU-only torch build.
    """
    import torch

    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError) as error:
        raise ConfigurationError(
            f"--device {device}: not a torch device ({error}); use cpu, cuda or cuda:N"
        ) from None
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            build = "a CPU-only torch build" if torch.version.cuda is None else "no visible GPU"
            raise ConfigurationError(
                f"--device {device}: CUDA is not available here ({build}, torch {torch.__version__}); use --device cpu"
            )
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise ConfigurationError(
                f"--device {device}: this machine has {torch.cuda.device_count()} CUDA device(s), "
                f"numbered from 0"
            )
    elif parsed.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigurationError(f"--device {device}: MPS is not available on this machine; use --device cpu")


def _could_be_hub_id(name: str) -> bool:
    """Whether ``name`` has the form of a Hub model id ("name" or "owner/name"), not of a local path."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    looks_local = (
        name.startswith((".", "/", "~")) or name.count("/") > 1 or (os.sep != "/" and os.sep in name)
    )
    if looks_local:
        return False
    try:
        validate_repo_id(name)
    except HFValidationError:
        return False
    return True


def check_model_source(name: str | os.PathLike, argument: str = "--model") -> None:
    """A model argument: an existing model folder, or something that can be a Hub id.

    A path that does not exist is reported as such (not as a malformed Hub id), and so is a
    Hub id while the Hub is switched off (``HF_HUB_OFFLINE=1``).

    Raises:
        MissingInputError: no such folder, or a folder without ``config.json``.
    """
    name = os.fspath(name)
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise MissingInputError(
                f"{argument} {name}: the folder has no config.json; give the folder a training run saved "
                "its model into (its output_dir)"
            )
        check_model_weights(path, argument)
        return
    if path.exists():
        raise MissingInputError(f"{argument} {name}: is a file; give the model's folder")
    if not _could_be_hub_id(name):
        raise MissingInputError(f"{argument} {name}: no such folder")
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        raise MissingInputError(
            f"{argument} {name}: no such folder, and the Hugging Face Hub is switched off (HF_HUB_OFFLINE=1)"
        )


def check_model_weights(folder: str | os.PathLike, argument: str = "--model") -> None:
    """A model folder's safetensors weights: their header must read and cover the whole file.

    Only the header is read (the tensors are mapped, not loaded), so a damaged or cut-short file is found
    in milliseconds, before a model is built around it.

    Raises:
        BadFileError: naming the file that cannot be read.
    """
    from safetensors import SafetensorError, safe_open

    for weights in sorted(Path(folder).glob("*.safetensors")):
        try:
            with safe_open(weights, framework="np"):
                pass
        except (SafetensorError, OSError) as error:
            raise BadFileError(
                f"{argument} {folder}: {weights.name} cannot be read as safetensors weights ({error}); the file is "
                f"damaged or cut short: copy the model folder again, or save the model again"
            ) from None


def check_port_free(port: int | None, host: str | None = None) -> None:
    """``--port``: free to listen on (``None`` lets the server choose).

    Raises:
        ConfigurationError: the port is out of range or another program listens on it.
    """
    if port is None:
        return
    if not 0 < port < 65536:
        raise ConfigurationError(f"--port {port}: not a port number (1-65535)")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As servers do: connections still closing do not block the port, a listener does.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host or "127.0.0.1", port))
        except OSError as error:
            raise ConfigurationError(
                f"--port {port}: cannot listen there ({error.strerror}); pick another port or leave --port out "
                "to take a free one"
            ) from None


def prepare_output_file(path: str | os.PathLike, argument: str = "--output") -> None:
    """An output file: make its folder (``-`` is stdout), and refuse a folder given as the file.

    Raises:
        ConfigurationError: ``path`` is a folder, or its folder cannot be made or written in.
    """
    if os.fspath(path) == "-":
        return
    target = Path(path)
    if target.is_dir():
        raise ConfigurationError(f"{argument} {path}: is a folder; give a file name in it")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigurationError(f"{argument} {path}: cannot create its folder ({error.strerror})") from None
    _check_can_write_in(target.parent, argument, path)


def _check_can_write_in(folder: Path, argument: str, path: str | os.PathLike) -> None:
    """Create and delete a file in ``folder``: the only test that answers for every cause (permissions,
    a read-only file system, ACLs) and for every user, root included."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise ConfigurationError(
            f"{argument} {path}: cannot write in {folder} ({error.strerror}); give a folder you can write to"
        ) from None


def check_output_folder(path: str | os.PathLike, argument: str = "--output_dir") -> None:
    """An output folder: a folder, or one that can be made, in which this user can write. Nothing is made.

    Raises:
        ConfigurationError: ``path`` (or a folder above it) is a file, or the folder cannot be written.
    """
    target = Path(path).expanduser()
    if target.exists() and not target.is_dir():
        raise ConfigurationError(
            f"{argument} {path}: is a file, not a folder; give a folder (it is made if missing)"
        )
    existing = next(folder for folder in (target, *target.absolute().parents) if folder.exists())
    if not existing.is_dir():
        raise ConfigurationError(
            f"{argument} {path}: {existing} is a file, so no folder can be made under it"
        )
    _check_can_write_in(existing, argument, path)


def check_new_folder(
    path: str | os.PathLike, argument: str, *, beside: str | os.PathLike | None = None
) -> None:
    """A folder a command fills from scratch (``export --out``): writable, and new or empty, so that no model
    folder (``beside``, the one being read, included) is written over.

    Raises:
        ConfigurationError: ``path`` is a file, cannot be written, or holds anything.
    """
    check_output_folder(path, argument)
    target = Path(path).expanduser()
    if target.is_dir() and any(target.iterdir()):
        same = beside is not None and target.resolve() == Path(beside).resolve()
        raise ConfigurationError(
            f"{argument} {path} is not empty{' (it is --model itself)' if same else ''}; give a new or empty folder"
        )


def check_url(url: str, argument: str = "--url") -> None:
    """A source to download from: an http(s) URL with a host.

    Raises:
        ConfigurationError: e.g. ``--url notaurl`` or ``--url example.org/mirror`` (no scheme).
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            f"{argument} {url}: not an http(s) URL; give the full address, e.g. https://example.org/mirror"
        )


def check_common_arguments(args: argparse.Namespace) -> None:
    """The checks above, for the arguments ``args`` has: ``--device``, ``--model``, ``--port``, ``--split_file``,
    the output folders ``--output_dir`` and ``--out``, and ``--url``."""
    if getattr(args, "device", None):
        check_device(args.device)
    models = getattr(args, "model", None)
    if models:
        for model in [models] if isinstance(models, (str, os.PathLike)) else models:
            check_model_source(model)
    if hasattr(args, "port"):
        check_port_free(args.port, getattr(args, "host", None))
    if getattr(args, "split_file", None) and not os.path.isfile(args.split_file):
        raise MissingInputError(f"--split_file {args.split_file}: no such file (a run's splits.json)")
    for name in ("output_dir", "out"):
        if getattr(args, name, None):
            check_output_folder(getattr(args, name), f"--{name}")
    if getattr(args, "url", None):
        check_url(args.url)


__all__ = [
    "check_common_arguments",
    "check_device",
    "check_model_source",
    "check_model_weights",
    "check_new_folder",
    "check_output_folder",
    "check_port_free",
    "check_url",
    "prepare_output_file",
]
