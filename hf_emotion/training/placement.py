"""Where the work of a run happens: which device and dtype an encoder pass uses, and which process
does what when ``accelerate launch`` starts several.

Every process of a run trains (the Trainer shards the batches and keeps the weights in step);
the rest is done once: the main process decodes first and writes every file, decisions (resume,
skip a finished fold, which heads to keep) are made on it and sent to the others, and heads
fitted on cached features are fitted there and sent, so every process holds the same model.
With one process every function here is a no-op.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging

import torch

logger = logging.getLogger(__name__)


def training_dtype(args) -> torch.dtype:
    """The dtype the Trainer computes in: bfloat16/float16 under ``--bf16``/``--fp16`` (autocast), else float32."""
    if getattr(args, "bf16", False):
        return torch.bfloat16
    if getattr(args, "fp16", False):
        return torch.float16
    return torch.float32


def encoder_autocast(device: torch.device, dtype: torch.dtype):
    """Autocast to ``dtype`` on ``device``, as the Trainer does for mixed precision; nothing for float32."""
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def log_phase(phase: str, args, batch_size: int | None = None) -> None:
    """One line per encoder pass: where it runs, so a run on the wrong device shows in its log."""
    logger.info(
        "%s: device %s, dtype %s%s, %d process(es)",
        phase,
        args.device,
        str(training_dtype(args)).removeprefix("torch."),
        f", batch {batch_size}" if batch_size else "",
        args.world_size,
    )


def is_distributed(args) -> bool:
    return args.world_size > 1 and torch.distributed.is_available() and torch.distributed.is_initialized()


def from_main(value, args):
    """``value`` as the main process has it, on every process: a decision made once for all."""
    if not is_distributed(args):
        return value
    box = [value if args.process_index == 0 else None]
    torch.distributed.broadcast_object_list(box, src=0)
    return box[0]


def share_tensors(tensors, args) -> None:
    """Copy the main process's values of ``tensors`` (parameters, buffers) into every other process's, in place."""
    if not is_distributed(args):
        return
    with torch.no_grad():
        for tensor in tensors:
            torch.distributed.broadcast(tensor.data, src=0)


def state_digest(model: torch.nn.Module) -> str:
    """SHA-256 of every tensor of ``model``'s state, in key order: equal digests, equal models."""
    digest = hashlib.sha256()
    for key, value in sorted(model.state_dict().items()):
        digest.update(key.encode())
        digest.update(value.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()


def digests_by_process(model: torch.nn.Module, args) -> list[str]:
    """Each process's :func:`state_digest` of ``model``, in process order (one entry with one process)."""
    mine = state_digest(model)
    if not is_distributed(args):
        return [mine]
    every = [None] * args.world_size
    torch.distributed.all_gather_object(every, mine)
    return every
