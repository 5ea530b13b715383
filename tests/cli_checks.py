"""What the tests of one-line errors share: the one ``error:`` line a command printed, and clean logging."""

from __future__ import annotations

import logging


def one_error_line(capsys) -> str:
    """The single ``error: ...`` line on stderr, asserting there is exactly one and no traceback."""
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def drop_stream_handlers() -> None:
    """finetune.main and the CLI point the root logger at the stdout/stderr of the test that calls them,
    which pytest closes afterwards; logging into a closed stream prints a traceback of its own."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if type(h) is logging.StreamHandler]:
        root.removeHandler(handler)
