"""Each frozen-encoder pass done once: pooled features kept by the encoder state that computed them.

A run encodes the same clips with the same encoder more than once. Every fold's linear probe encodes its
training and validation clips with the pretrained encoder, so over six folds each clip goes through it five
times (and once more for the final model); the speaker-adaptive head encodes the training and validation
clips with the encoder the refit has just encoded them with. :class:`PooledFeatureCache` is called like
:func:`~hf_emotion.training.heads.pooled_features` and encodes only the clips it has not seen with this
encoder state, in this dtype and with this cut; the rest come from memory.

The encoder state is a digest of the encoder's weights, so a fine-tuned encoder never reads the
pretrained one's features; the heads are not part of it, since ``pooled_hidden_states`` is computed
before them. A clip is known by its file (the decoded dataset's ``audio`` column holds its path): clips
without one (lists of arrays, audio given as arrays) are encoded afresh. Padding is masked out of the pooled features, so a clip's features do not depend on
the clips that shared its batch (in fp32 they agree with a fresh pass to about 1e-6).
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict

import torch

from ..data.framing import CUT_COLUMN
from .heads import pooled_features

logger = logging.getLogger(__name__)


def encoder_digest(model) -> str:
    """SHA-256 of the encoder's weights and buffers (not the heads'): equal digests, equal features."""
    digest = hashlib.sha256()
    for key, value in sorted(model.encoder.state_dict().items()):
        digest.update(key.encode())
        digest.update(value.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()


class PooledFeatureCache:
    """Pooled features of clips by encoder state, for the encoder states used last.

    Args:
        max_states: how many encoder states to keep (least recently used dropped first). Two cover a run:
            the pretrained encoder, which every fold's probe and the final model's reuse, and the fold's
            fine-tuned one, which its refit and speaker-adaptive head share.
    """

    def __init__(self, max_states: int = 2):
        self.max_states = max_states
        self._states: OrderedDict[tuple, dict[str, dict[str, torch.Tensor]]] = OrderedDict()
        self.encoded = 0  # clips encoded (misses)
        self.reused = 0  # clips read from memory (hits)

    def __call__(
        self,
        model,
        dataset,
        collator,
        batch_size: int = 16,
        description: str = "",
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> dict[str, torch.Tensor]:
        """What :func:`~hf_emotion.training.heads.pooled_features` returns for these clips, encoding only the
        ones this encoder state has not encoded before."""
        paths = _clip_paths(dataset)
        if paths is None or collator.random_crop or collator.augment is not None:
            return pooled_features(
                model, dataset, collator, batch_size, description, device=device, dtype=dtype
            )
        key = (encoder_digest(model), str(dtype), collator.max_seconds, collator.is_whisper)
        known = self._state(key)
        missing = [i for i, path in enumerate(paths) if path not in known]
        if missing:
            subset = dataset.select(missing) if len(missing) < len(paths) else dataset
            fresh = pooled_features(
                model, subset, collator, batch_size, description, device=device, dtype=dtype
            )
            for row, i in enumerate(missing):
                known[paths[i]] = {name: values[row] for name, values in fresh.items()}
        self.encoded += len(missing)
        self.reused += len(paths) - len(missing)
        if len(missing) < len(paths):
            logger.info(
                "encoding %s: %d of %d clips already encoded by this encoder state, %d encoded now",
                description or "clips",
                len(paths) - len(missing),
                len(paths),
                len(missing),
            )
        rows = [known[path] for path in paths]
        return {name: torch.stack([row[name] for row in rows]) for name in rows[0]} if rows else {}

    def _state(self, key: tuple) -> dict[str, dict[str, torch.Tensor]]:
        if key in self._states:
            self._states.move_to_end(key)
        else:
            self._states[key] = {}
            while len(self._states) > self.max_states:
                self._states.popitem(last=False)
        return self._states[key]


def _clip_paths(dataset) -> list[str] | None:
    """Each clip's file (``audio``, a path once decoded; ``<path>#speech:<method>`` for a clip cut to its
    speech), or None where clips cannot be told apart by it."""
    if not hasattr(dataset, "column_names") or "audio" not in dataset.column_names:
        return None
    plain = dataset.with_format(None)
    paths = list(plain["audio"])
    if not all(isinstance(path, str) for path in paths) or len(set(paths)) != len(paths):
        return None
    if CUT_COLUMN in dataset.column_names:
        paths = [f"{path}#speech:{method}" for path, method in zip(paths, plain[CUT_COLUMN], strict=True)]
    return paths
