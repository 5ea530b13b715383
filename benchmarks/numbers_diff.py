#!/usr/bin/env python
"""Check that a rewrite of a report kept its numbers: diff the sets of numbers in two text files.

    git show HEAD~1:BENCHMARKS.md > /tmp/before.md
    python -m benchmarks.numbers_diff /tmp/before.md BENCHMARKS.md

Prints the numbers found in only one of them; exits 1 when the sets differ. A reshaping (moved
sections, new headings, a table split in two) keeps the set; a changed or lost number shows.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

NUMBER = re.compile(r"\d+(?:\.\d+)?")


def numbers(text: str) -> set[str]:
    return set(NUMBER.findall(text))


def main(argv: list[str] | None = None) -> int:
    before_path, after_path = argv if argv is not None else sys.argv[1:]
    before, after = numbers(Path(before_path).read_text()), numbers(Path(after_path).read_text())
    print(f"{before_path}: {len(before)} distinct numbers; {after_path}: {len(after)}")
    print("only before:", " ".join(sorted(before - after)) or "none")
    print("only after:", " ".join(sorted(after - before)) or "none")
    return 0 if before == after else 1


if __name__ == "__main__":
    sys.exit(main())
