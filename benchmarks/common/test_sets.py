"""A test set named on the command line (``--test name=dataset:folder[:splits.json]``) and its decoded clips."""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TestSet:
    name: str
    dataset: str
    folder: str
    split_file: str | None = None
    speakers: str = "test"  # which of the split's speakers: "test" or "validation"

    @classmethod
    def parse(cls, value: str) -> TestSet:
        name, _, rest = value.partition("=")
        parts = rest.split(":")
        if not name or len(parts) not in (2, 3):
            raise argparse.ArgumentTypeError(f"--test {value!r}: write name=dataset:folder[:splits.json]")
        return cls(name, parts[0], parts[1], parts[2] if len(parts) == 3 else None)

    def load(self, sampling_rate: int):
        """The decoded clips (only the split's test speakers, or its ``speakers``, when a split file is given)."""
        from hf_emotion.corpora import load_corpus
        from hf_emotion.data.decode_cache import decode_dataset
        from hf_emotion.data.splits import Split

        raw = load_corpus(self.dataset, self.folder)
        if self.split_file:
            chosen = set(getattr(Split.from_json(self.split_file), self.speakers))
            raw = raw.filter(lambda s: s in chosen, input_columns="speaker")
        decoded, skipped = decode_dataset(raw, sampling_rate)
        if skipped:
            logger.warning("%s: %d files skipped", self.name, len(skipped))
        return decoded
