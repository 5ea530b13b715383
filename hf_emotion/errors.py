"""Mistakes a user can fix, and how entry points report them: one line and exit status 2.

Code that finds a bad argument, folder or file the user gave raises a :class:`UserError`
whose message names it and says what to do. ``finetune.py`` and the ``hf-emotion`` command
run their ``main`` through :func:`exit_status`, which prints ``error: <message>`` instead of
a traceback and returns 2 (the status argparse uses for bad arguments). A developer who wants
the traceback sets ``HF_EMOTION_DEBUG=1`` (or passes ``hf-emotion --debug``).

A full disk is reported the same way (:class:`DiskFullError`, naming the folder that is full);
everything else (a bug) still ends in a traceback: only errors known to be the user's are shortened.
"""

from __future__ import annotations

import errno
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager

DEBUG_ENV = "HF_EMOTION_DEBUG"
USER_ERROR_STATUS = 2


class UserError(Exception):
    """A mistake in what the user asked for; the message names the argument or file."""


class ConfigurationError(UserError, ValueError):
    """Arguments that cannot work together (folds and speakers, a typo'd corpus name, ...)."""


class MissingInputError(UserError, FileNotFoundError):
    """A folder or file named on the command line that is not there."""


class BadFileError(UserError):
    """A file that is there but cannot be read as what it should be: damaged, cut short, or another kind of file."""


class MissingDependencyError(UserError, ImportError):
    """An optional package a command needs is not installed; the message names the extra to install."""


class DiskFullError(UserError, OSError):
    """No space left on the device while writing into a folder; the message names the folder."""


#: ``errno`` values that mean the disk (or the user's quota on it) is full.
DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


def is_disk_full(error: BaseException) -> bool:
    """Whether ``error`` is an ``OSError`` saying the disk or the quota is full."""
    return isinstance(error, OSError) and error.errno in DISK_FULL_ERRNOS


def no_space_left_in(folder: str | os.PathLike) -> bool:
    """Whether 1 MiB more cannot be written into ``folder`` for lack of space.

    For writers that do not say why they failed: ``torch.save`` on a full disk raises a ``RuntimeError``
    ("unexpected pos ..."), safetensors its own error; asking the disk after the failure tells a full disk
    from anything else.
    """
    try:
        with tempfile.TemporaryFile(dir=folder) as probe:
            probe.write(bytes(1 << 20))
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as error:
        return is_disk_full(error)
    return False


def debugging() -> bool:
    """Whether tracebacks were asked for with ``HF_EMOTION_DEBUG``."""
    return os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")


@contextmanager
def user_errors(*types: type[BaseException]) -> Iterator[None]:
    """Re-raise the given exception types as :class:`ConfigurationError`, keeping the message.

    For code that reports user mistakes with plain ``ValueError`` (argument dataclasses'
    ``__post_init__``, a run file that is not JSON), around the call that reads them.
    """
    try:
        yield
    except UserError:
        raise
    except types as error:
        if isinstance(error, OSError) and error.filename:
            raise ConfigurationError(f"{error.filename}: {error.strerror}") from error
        raise ConfigurationError(str(error)) from error


def exit_status(main: Callable[[], object], *, debug: bool = False) -> int:
    """Run ``main()``; 0 when it returns (an int it returns is the status), 2 on a :class:`UserError`.

    The error's message goes to stderr as one line. With ``debug`` or ``HF_EMOTION_DEBUG=1``
    the exception propagates, traceback and all.
    """
    try:
        result = main()
    except UserError as error:
        if debug or debugging():
            raise
        message = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
        sys.stderr.write(f"error: {message}\n")
        return USER_ERROR_STATUS
    return result if isinstance(result, int) and not isinstance(result, bool) else 0
