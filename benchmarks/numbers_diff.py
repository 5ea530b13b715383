"""Check that a rewrite of a report kept its numbers: diff the sets of numbers in text files.

    git show HEAD~1:BENCHMARKS.md > /tmp/before.md
    python -m benchmarks.numbers_diff /tmp/before.md BENCHMARKS.md benchmarks/DETAILS.md

Compares the numbers of the first file with those of all the others together (a report split into several
files keeps its numbers when their union does). Prints the numbers found on one side only; exits 1 when the
sets differ. A reshaping (moved sections, new headings, a table split in two, a section moved to another file)
keeps the set; a changed or lost number shows.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

NUMBER = re.compile(r"\d+(?:\.\d+)?")


def numbers(text: str) -> set[str]:
    return set(NUMBER.findall(text))


def main(argv: list[str] | None = None) -> int:
    before_path, *after_paths = argv if argv is not None else sys.argv[1:]
    if not after_paths:
        raise SystemExit("usage: python -m benchmarks.numbers_diff BEFORE AFTER [AFTER ...]")
    before = numbers(Path(before_path).read_text())
    after = set().union(*(numbers(Path(path).read_text()) for path in after_paths))
    print(f"{before_path}: {len(before)} distinct numbers; {' + '.join(after_paths)}: {len(after)}")
    print("only before:", " ".join(sorted(before - after)) or "none")
    print("only after:", " ".join(sorted(after - before)) or "none")
    return 0 if before == after else 1


if __name__ == "__main__":
    sys.exit(main())
