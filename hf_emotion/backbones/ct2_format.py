"""The CTranslate2 ``model.bin`` format: a reader for binary version 6.

The layout follows ``ctranslate2/specs/model_spec.py`` (``ModelSpec._serialize``):
``uint32 binary_version, str spec_name, uint32 spec_revision, uint32 n, n × (str name,
uint8 rank, rank × uint32 dim, uint8 dtype_id, uint32 num_bytes, bytes), uint32 m,
m × (str alias, str target)`` with little-endian integers and ``str`` as ``uint16 length
(including a NUL) + UTF-8 bytes + NUL``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["CT2_BINARY_VERSION", "CT2_DTYPES", "CT2Model", "read_ct2_model"]

CT2_BINARY_VERSION = 6
"""The only binary version this reader handles (the one the published wheels use)."""

CT2_DTYPES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")
"""Order of the DataType enum in CTranslate2 (include/ctranslate2/types.h)."""


@dataclass
class CT2Model:
    """The content of a CTranslate2 ``model.bin``.

    Attributes:
        spec_name: Model specification, e.g. ``"WhisperSpec"``.
        spec_revision: Revision of that specification.
        variables: Arrays by name (scalars as 0-d arrays), in file order.
        aliases: Alias name → name of the variable it shares (tied weights).
        binary_version: Version of the binary layout.
    """

    spec_name: str
    spec_revision: int
    variables: dict[str, np.ndarray]
    aliases: dict[str, str] = field(default_factory=dict)
    binary_version: int = CT2_BINARY_VERSION


def read_ct2_model(path: str | Path) -> CT2Model:
    """Parse a CTranslate2 ``model.bin`` (binary version 6).

    Args:
        path: The file.

    Returns:
        The variables and aliases. Arrays are read-only views into the file's bytes.

    Raises:
        ValueError: If the file is not a CTranslate2 model of a supported binary version,
            or is truncated.
    """
    path = Path(path)
    data = path.read_bytes()
    offset = 0

    def take(fmt: str):
        nonlocal offset
        try:
            values = struct.unpack_from("<" + fmt, data, offset)
        except struct.error as err:
            raise ValueError(f"{path}: truncated CTranslate2 model (at byte {offset})") from err
        offset += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    def take_string() -> str:
        nonlocal offset
        length = take("H")
        raw = data[offset : offset + length]
        offset += length
        if len(raw) != length or not raw.endswith(b"\0"):
            raise ValueError(f"{path}: malformed string in CTranslate2 model (at byte {offset})")
        return raw[:-1].decode("utf-8")

    binary_version = take("I")
    if binary_version != CT2_BINARY_VERSION:
        raise ValueError(
            f"{path}: CTranslate2 binary version {binary_version} is not supported "
            f"(this reader handles version {CT2_BINARY_VERSION}); is it a CTranslate2 model.bin?"
        )
    spec_name = take_string()
    spec_revision = take("I")
    variables: dict[str, np.ndarray] = {}
    for _ in range(take("I")):
        name = take_string()
        rank = take("B")
        shape = tuple(take("I" * rank)) if rank > 1 else ((take("I"),) if rank == 1 else ())
        dtype_id = take("B")
        num_bytes = take("I")
        if dtype_id >= len(CT2_DTYPES) or CT2_DTYPES[dtype_id] == "bfloat16":
            raise ValueError(f"{path}: variable {name!r} has unsupported dtype id {dtype_id}")
        dtype = np.dtype(CT2_DTYPES[dtype_id]).newbyteorder("<")
        if num_bytes != dtype.itemsize * int(np.prod(shape, dtype=np.int64)):
            raise ValueError(f"{path}: variable {name!r} has {num_bytes} bytes for shape {shape}")
        if offset + num_bytes > len(data):
            raise ValueError(f"{path}: truncated CTranslate2 model inside variable {name!r}")
        variables[name] = np.frombuffer(data, dtype=dtype, count=num_bytes // dtype.itemsize, offset=offset)
        variables[name] = variables[name].reshape(shape)
        offset += num_bytes
    aliases = {}
    for _ in range(take("I")):
        alias = take_string()
        aliases[alias] = take_string()
    if offset != len(data):
        raise ValueError(f"{path}: {len(data) - offset} unexpected trailing bytes after the model")
    return CT2Model(spec_name, spec_revision, variables, aliases, binary_version)
