"""Fetching files from the web into a folder: checked, resumable, with a progress bar.

The machinery only. Which files make up a corpus, and where they are published, each corpus
module says (``ravdess.py``: a Zenodo record; ``crema_d.py``: a GitHub repository whose clips are
Git LFS media). A transfer that is cut resumes with an HTTP ``Range`` request, and a file is
checked against the size and hashes its source publishes before it is kept.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tqdm.auto import tqdm

from ..errors import DiskFullError, UserError, is_disk_full

logger = logging.getLogger(__name__)

GITHUB_API = "https://api.github.com"
GITHUB_RAW = "https://raw.githubusercontent.com"
GITHUB_MEDIA = "https://media.githubusercontent.com/media"
CHUNK = 1 << 20


class DownloadError(UserError):
    """A download that could not be completed or verified; the message says what to do.

    A :class:`~hf_emotion.errors.UserError`: being offline or having a transfer cut is for the
    user to fix (connect, run again), so entry points print its one line, not a traceback.
    """


@dataclass(frozen=True)
class RemoteFile:
    """One file to fetch, with what its source publishes about it."""

    url: str
    name: str
    size: int | None = None
    md5: str | None = None
    sha256: str | None = None


# --------------------------------------------------------------------------- names from a source


def entry_path(folder: Path, name: str, source: str) -> Path:
    """``folder / name`` for a file name a listing or an archive gave; refused unless it stays inside ``folder``.

    A listing or an archive is the server's word: a name such as ``../../x.wav`` or ``/tmp/x.wav`` would
    write outside the folder the user chose. Such names are never rewritten into something else: the
    download stops, so that a source that sends them is noticed.

    Raises:
        DownloadError: ``name`` is empty, absolute, has a ``..`` part or a backslash; names ``source``.
    """
    path = PurePosixPath(name)
    if not name or "\\" in name or path.is_absolute() or ".." in path.parts:
        raise DownloadError(
            f"{source}: the entry {name!r} would be written outside {folder}; the download was stopped before "
            "writing it: use the official source or a mirror you trust"
        )
    return folder / name


# --------------------------------------------------------------------------- HTTP


def open_url(url: str, headers: dict[str, str] | None = None, data: bytes | None = None):
    """``urlopen`` whose failures are a :class:`DownloadError` saying what to do."""
    request = urllib.request.Request(url, headers={"User-Agent": "hf-emotion", **(headers or {})}, data=data)
    try:
        return urllib.request.urlopen(request, timeout=60)
    except urllib.error.HTTPError as error:
        raise DownloadError(f"{url}: the server answered {error.code} {error.reason}") from error
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        reason = getattr(error, "reason", error)
        raise DownloadError(
            f"cannot reach {urllib.parse.urlsplit(url).netloc} ({reason}): are you offline? Fetch the corpus "
            "on a connected machine (hf-emotion data download NAME --out DIR) and pass --data_dir DIR"
        ) from error


def read_json(url: str) -> dict | list:
    with open_url(url, {"Accept": "application/json"}) as response:
        return json.load(response)


def _digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, remote: RemoteFile) -> None:
    """Check ``path`` against the size and hashes ``remote`` publishes; delete it when it fails."""
    problems = []
    if remote.size is not None and path.stat().st_size != remote.size:
        problems.append(f"{path.stat().st_size} bytes, the source says {remote.size}")
    for algorithm, expected in (("md5", remote.md5), ("sha256", remote.sha256)):
        if expected and not problems and (actual := _digest(path, algorithm)) != expected:
            problems.append(f"{algorithm} {actual}, the source says {expected}")
    if problems:
        path.unlink()
        raise DownloadError(
            f"{remote.url}: {'; '.join(problems)}; the file was deleted, run the command again"
        )


def fetch(remote: RemoteFile, destination: Path, *, progress: bool = True) -> Path:
    """Download ``remote`` to ``destination``, resuming a ``.part`` file left by a cut transfer.

    The bytes already there are kept when the server honours ``Range`` (206); a server that
    sends the whole file again (200) restarts it. The result is verified before it is renamed.
    """
    if destination.is_file():
        return destination
    destination.parent.mkdir(parents=True, exist_ok=True)
    part = destination.with_name(destination.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    if remote.size is not None and have > remote.size:
        part.unlink()
        have = 0
    if remote.size is None or have < remote.size:
        with open_url(remote.url, {"Range": f"bytes={have}-"} if have else {}) as response:
            if have and response.status != 206:
                logger.info("%s: the server does not resume; starting again", remote.url)
                have = 0
            _transfer(response, part, have, remote, progress)
    verify(part, remote)
    part.rename(destination)
    return destination


def _transfer(response, part: Path, have: int, remote: RemoteFile, progress: bool) -> None:
    """Append the response's body to ``part`` (which holds ``have`` bytes already), with a bar."""
    length = response.headers.get("Content-Length")
    total = have + int(length) if length is not None else remote.size
    bar = tqdm(total=total, initial=have, unit="B", unit_scale=True, desc=remote.name, disable=not progress)
    written = have
    with open(part, "ab" if have else "wb") as handle, bar:
        try:
            for block in iter(lambda: response.read(CHUNK), b""):
                handle.write(block)
                written += len(block)
                bar.update(len(block))
            error = None
        except (OSError, http.client.HTTPException) as raised:
            if is_disk_full(raised):
                raise DiskFullError(
                    f"{part.parent}: no space left on the device after {written} of {total} bytes of {remote.name}; "
                    f"free space there and run the command again to resume from {part}"
                ) from raised
            error = raised
    # A dropped connection shows as an exception or, as often, as a body shorter than promised.
    if error is not None or (length is not None and written < total):
        raise DownloadError(
            f"{remote.url}: the transfer was cut after {written} of {total} bytes; run the command again "
            f"to resume from {part}"
        ) from error


def fetch_all(files: Sequence[RemoteFile], folder: Path, description: str) -> None:
    """Fetch many small files into ``folder`` (each at ``folder/<name>``), eight at a time, one bar in bytes.

    Every name is checked (:func:`entry_path`) before the first file is fetched.
    """
    targets = {remote.name: entry_path(folder, remote.name, remote.url) for remote in files}
    with (
        ThreadPoolExecutor(8) as pool,
        tqdm(total=sum(f.size or 0 for f in files), unit="B", unit_scale=True, desc=description) as bar,
    ):

        def one(remote: RemoteFile) -> None:
            fetch(remote, targets[remote.name], progress=False)
            bar.update(remote.size or 0)

        list(pool.map(one, files))


# --------------------------------------------------------------------------- Zenodo


def zenodo_file(record: str, key: str, *, base: str) -> RemoteFile:
    """A file of a Zenodo record, with the size and MD5 the record's API publishes.

    ``base``: the server root (https://zenodo.org, or a mirror laid out as Zenodo).
    """
    url = f"{base.rstrip('/')}/api/records/{record}"
    listing = read_json(url)
    for entry in listing.get("files", []):
        if entry.get("key") == key:
            algorithm, _, value = entry.get("checksum", "").partition(":")
            return RemoteFile(
                url=entry["links"]["self"],
                name=key,
                size=entry.get("size"),
                md5=value if algorithm == "md5" else None,
            )
    keys = [entry.get("key") for entry in listing.get("files", [])]
    raise DownloadError(f"{url}: no file {key} in the record (it lists {keys})")


def extract_zip(archive: Path, folder: Path) -> list[str]:
    """Check the zip's names (:func:`entry_path`) and CRCs, then extract it into ``folder``; returns the
    names of the files extracted."""
    try:
        with zipfile.ZipFile(archive) as zipped:
            members = [m for m in zipped.infolist() if not m.is_dir()]
            for member in members:
                entry_path(folder, member.filename, str(archive))
            bad = zipped.testzip()
            if bad is not None:
                raise DownloadError(f"{archive}: {bad} fails its CRC check; delete the zip and run again")
            for member in tqdm(members, desc=f"extracting {archive.name}", unit="file"):
                extract_member(zipped, member, folder)
    except (zipfile.BadZipFile, zlib.error) as error:
        raise DownloadError(f"{archive}: not a valid zip ({error}); delete it and run again") from error
    return [member.filename for member in members]


def extract_member(zipped: zipfile.ZipFile, member: zipfile.ZipInfo, folder: Path) -> None:
    """One file of the zip into ``folder``; on a full disk the half-written file is removed and the error names
    the folder (the download is not marked complete, so running it again extracts the zip again)."""
    try:
        zipped.extract(member, folder)  # zipfile drops '..' and absolute parts of names
    except OSError as error:
        if not is_disk_full(error):
            raise
        # Where zipfile wrote it: the name without its empty, '.' and '..' parts.
        parts = [part for part in member.filename.split("/") if part not in ("", ".", "..")]
        folder.joinpath(*parts).unlink(missing_ok=True)
        unpacked = sum(m.file_size for m in zipped.infolist()) / 1e9
        raise DiskFullError(
            f"{folder}: no space left on the device while extracting {member.filename} from {zipped.filename} "
            f"({unpacked:.1f} GB unpacked); free space there (or give another --out) and run the command again"
        ) from error


# --------------------------------------------------------------------------- GitHub


@dataclass(frozen=True)
class GitHubSource:
    """Where a GitHub repository's listing, raw files and LFS media are read from."""

    repository: str
    api: str = GITHUB_API
    raw: str = GITHUB_RAW
    media: str = GITHUB_MEDIA

    @classmethod
    def mirror(cls, repository: str, root: str) -> GitHubSource:
        """A mirror serving the three under ``root/api``, ``root/raw`` and ``root/media``."""
        root = root.rstrip("/")
        return cls(repository, api=f"{root}/api", raw=f"{root}/raw", media=f"{root}/media")

    def raw_url(self, branch: str, path: str) -> str:
        return f"{self.raw}/{self.repository}/{branch}/{path}"


def parse_lfs_pointer(text: str) -> tuple[str, int] | None:
    """``(sha256, size)`` from a Git LFS pointer file, or None when ``text`` is not one."""
    fields = dict(line.split(" ", 1) for line in text.strip().splitlines() if " " in line)
    if not fields.get("version", "").startswith("https://git-lfs.github.com/spec/"):
        return None
    return fields["oid"].removeprefix("sha256:"), int(fields["size"])


def github_file(source: GitHubSource, branch: str, path: str) -> RemoteFile:
    """A repository file: its LFS media (with the pointer's SHA-256 and size) when git holds a pointer."""
    with open_url(source.raw_url(branch, path)) as response:
        head = response.read(1024)
    parsed = parse_lfs_pointer(head.decode("utf-8", "replace"))
    if parsed is None:  # stored in git itself: the raw file is the file
        return RemoteFile(url=source.raw_url(branch, path), name=path)
    sha256, size = parsed
    return RemoteFile(
        url=f"{source.media}/{source.repository}/{branch}/{path}", name=path, size=size, sha256=sha256
    )
