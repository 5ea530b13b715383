"""Where the work of a run happens: which precision a run computes in, which device and dtype an encoder
pass uses, and which process does what when ``accelerate launch`` starts several.

``--precision auto`` (the default) is chosen once, by :func:`choose_precision`: bf16 autocast on a CPU
that computes bf16 natively (AVX512-BF16 or AMX: about twice the fp32 rate, and the CPU is where this
project trains), fp32 on one that would only emulate it; on a GPU the Trainer's own default (fp32, or
what ``--bf16``/``--fp16`` ask for). The choice becomes the Trainer's ``bf16`` flag, so training, its
validation passes and every encoder pass of the recipe (``training_dtype``) use it.

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
import os

import torch

from ..evaluation.machine import cpu_count

logger = logging.getLogger(__name__)

PRECISIONS = ("auto", "fp32", "bf16")
# /proc/cpuinfo flags of CPUs with bf16 arithmetic in hardware (torch's oneDNN kernels use them).
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_flags() -> set[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none, e.g. macOS)."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return set(line.partition(":")[2].split())
    except OSError:
        pass
    return set()


def choose_precision(
    requested: str, *, bf16: bool = False, fp16: bool = False, on_cpu: bool, flags: set[str]
) -> tuple[str, str]:
    """The precision a run computes in, and why: ``("bf16" | "fp16" | "fp32", reason)``.

    Args:
        requested: ``--precision``: ``auto``, ``fp32`` or ``bf16``; an explicit value wins.
        bf16, fp16: the Trainer's ``--bf16``/``--fp16``, which ``auto`` keeps.
        on_cpu: whether the run trains on the CPU (no GPU, or ``--use_cpu``).
        flags: the CPU's feature flags (:func:`cpu_flags`).

    Raises:
        ValueError: an unknown ``--precision``, or one that contradicts ``--bf16``/``--fp16``.
    """
    if requested not in PRECISIONS:
        raise ValueError(f"--precision must be one of {', '.join(PRECISIONS)}, got {requested!r}")
    asked = [name for name, on in (("--bf16", bf16), ("--fp16", fp16)) if on]
    if requested != "auto":
        clash = [flag for flag in asked if flag != f"--{requested}"]
        if clash:
            raise ValueError(f"--precision {requested} contradicts {clash[0]}; drop one of them")
        return requested, f"--precision {requested}"
    if asked:
        return asked[0].removeprefix("--"), asked[0]
    if not on_cpu:
        return "fp32", "auto on an accelerator: the Trainer's default (--bf16 or --fp16 for mixed precision)"
    native = sorted(set(NATIVE_BF16_FLAGS) & flags)
    if native:
        return "bf16", f"auto: the CPU computes bf16 natively ({', '.join(native)})"
    return "fp32", f"auto: the CPU has no native bf16 (none of {', '.join(NATIVE_BF16_FLAGS)})"


def launcher_thread_default(env: dict[str, str], parent_env: dict[str, str] | None) -> bool:
    """Whether ``OMP_NUM_THREADS`` is ``accelerate launch``'s default rather than the user's choice.

    ``accelerate launch`` without ``--cpu`` sets ``OMP_NUM_THREADS=1`` in every process it starts unless the
    user set it: on a machine without a GPU the README's command then trained on one core of two (measured
    on this project's 2-core machines: 0.49-0.63 s a bf16 training step on one thread, 0.35 s on two).
    Only accelerate's own default is overridden; the launcher's environment (``parent_env``, None when it
    cannot be read) tells whether the user set the variable before launching.
    """
    launched = "ACCELERATE_USE_CPU" in env  # set by accelerate launch in every process it starts
    return (
        launched
        and env.get("ACCELERATE_USE_CPU", "").lower() != "true"  # with --cpu accelerate chose per process
        and env.get("OMP_NUM_THREADS") == "1"
        and parent_env is not None
        and "OMP_NUM_THREADS" not in parent_env
    )


def parent_environment() -> dict[str, str] | None:
    """The launching process's environment (Linux ``/proc``), or None where it cannot be read."""
    try:
        raw = open(f"/proc/{os.getppid()}/environ", "rb").read()
    except OSError:
        return None
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs}


def use_every_core(args) -> str | None:
    """On a CPU, undo ``accelerate launch``'s one-thread default: the cores this process may use, shared by
    the processes of this machine. Returns the line to log, or None when nothing changed."""
    if has_accelerator() and not getattr(args, "use_cpu", False):
        return None
    if not launcher_thread_default(dict(os.environ), parent_environment()):
        return None
    cores = cpu_count()  # the affinity mask, which containers narrow
    local_processes = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    threads = max(1, cores // max(1, local_processes))
    if threads <= 1:
        return None
    torch.set_num_threads(threads)
    return (
        f"CPU threads: {threads} (accelerate launch set OMP_NUM_THREADS=1 by default; set OMP_NUM_THREADS "
        "before launching to choose)"
    )


def has_accelerator() -> bool:
    """Whether torch sees a GPU (CUDA/ROCm, XPU or Apple's MPS) that the Trainer would train on."""
    xpu = getattr(torch, "xpu", None)
    return bool(
        torch.cuda.is_available()
        or (xpu is not None and xpu.is_available())
        or torch.backends.mps.is_available()
    )


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
        "%s: device %s, dtype %s%s, %d process(es)%s",
        phase,
        args.device,
        str(training_dtype(args)).removeprefix("torch."),
        f", batch {batch_size}" if batch_size else "",
        args.world_size,
        f", {torch.get_num_threads()} CPU thread(s) each" if args.device.type == "cpu" else "",
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
