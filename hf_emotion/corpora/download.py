"""The built-in corpora fetched from their official sources into a local cache.

- RAVDESS (speech, song): Zenodo record 1188976, ``Audio_Speech_Actors_01-24.zip`` /
  ``Audio_Song_Actors_01-24.zip``. The record's API lists each file's size and MD5, which are
  checked; the zip is tested and extracted (``Actor_XX/*.wav``, as :func:`load_ravdess` reads).
- CREMA-D: the CheyneyComputerScience/CREMA-D GitHub repository: every ``AudioWAV/*.wav``,
  ``VideoDemographics.csv`` and ``summaryTable.csv`` (found by name: the repository has moved it
  between folders). The clips are Git LFS objects: each pointer gives the clip's SHA-256 and
  size, and the clip itself comes from GitHub's LFS media host, checked against both.

Downloads show a progress bar, resume a cut transfer with an HTTP ``Range`` request, and land
in ``~/.cache/hf_emotion/data/<folder>`` (``$HF_EMOTION_HOME/data`` when set) unless told
otherwise. A corpus folder is complete once its marker file is written, so a second call, or a
training run pointed at the cache, does nothing more.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from ..errors import UserError

logger = logging.getLogger(__name__)

ZENODO = "https://zenodo.org"
RAVDESS_RECORD = "1188976"
CREMA_D_REPOSITORY = "CheyneyComputerScience/CREMA-D"
GITHUB_API = "https://api.github.com"
GITHUB_RAW = "https://raw.githubusercontent.com"
GITHUB_MEDIA = "https://media.githubusercontent.com/media"

#: Download name -> (cache folder, what it is). Both RAVDESS zips go into one folder (their file
#: names differ, and the loader tells speech from song by name), so --dataset ravdess reads both.
CORPORA: dict[str, tuple[str, str]] = {
    "ravdess": ("ravdess", "RAVDESS speech (Zenodo record 1188976, Audio_Speech_Actors_01-24.zip)"),
    "ravdess-song": ("ravdess", "RAVDESS song (Zenodo record 1188976, Audio_Song_Actors_01-24.zip)"),
    "crema-d": ("crema-d", "CREMA-D (github.com/CheyneyComputerScience/CREMA-D, AudioWAV/ and two tables)"),
}
#: Built-in corpus names of --dataset -> the downloads they read.
DATASET_DOWNLOADS: dict[str, tuple[str, ...]] = {
    "ravdess": ("ravdess", "ravdess-song"),
    "ravdess_speech": ("ravdess",),
    "ravdess_song": ("ravdess-song",),
    "crema_d": ("crema-d",),
}
_ZIPS = {"ravdess": "Audio_Speech_Actors_01-24.zip", "ravdess-song": "Audio_Song_Actors_01-24.zip"}
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


def data_home() -> Path:
    """``$HF_EMOTION_HOME/data``, else ``~/.cache/hf_emotion/data``."""
    home = os.environ.get("HF_EMOTION_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "hf_emotion")
    return Path(home) / "data"


def corpus_dir(name: str) -> Path:
    """The cache folder of download ``name`` (it may not exist yet)."""
    return data_home() / CORPORA[name][0]


def marker(folder: Path, name: str) -> Path:
    """The file that says download ``name`` finished in ``folder``."""
    return folder / f".hf_emotion-{name}.json"


# --------------------------------------------------------------------------- HTTP


def _open(url: str, headers: dict[str, str] | None = None, data: bytes | None = None):
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
    with _open(url, {"Accept": "application/json"}) as response:
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
        with _open(remote.url, {"Range": f"bytes={have}-"} if have else {}) as response:
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
            error = raised
    # A dropped connection shows as an exception or, as often, as a body shorter than promised.
    if error is not None or (length is not None and written < total):
        raise DownloadError(
            f"{remote.url}: the transfer was cut after {written} of {total} bytes; run the command again "
            f"to resume from {part}"
        ) from error


# --------------------------------------------------------------------------- RAVDESS


def zenodo_file(record: str, key: str, *, base: str = ZENODO) -> RemoteFile:
    """A file of a Zenodo record, with the size and MD5 the record's API publishes."""
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


def extract_zip(archive: Path, folder: Path) -> int:
    """Test the zip's CRCs, then extract it into ``folder``; returns the number of files."""
    try:
        with zipfile.ZipFile(archive) as zipped:
            bad = zipped.testzip()
            if bad is not None:
                raise DownloadError(f"{archive}: {bad} fails its CRC check; delete the zip and run again")
            members = [m for m in zipped.infolist() if not m.is_dir()]
            for member in tqdm(members, desc=f"extracting {archive.name}", unit="file"):
                zipped.extract(member, folder)  # zipfile drops '..' and absolute parts of names
    except (zipfile.BadZipFile, zlib.error) as error:
        raise DownloadError(f"{archive}: not a valid zip ({error}); delete it and run again") from error
    return len(members)


def download_ravdess(name: str, folder: Path, *, url: str | None = None) -> int:
    """RAVDESS speech (``name="ravdess"``) or song (``"ravdess-song"``) into ``folder``.

    ``url``: a Zenodo-compatible server root (default https://zenodo.org), or the zip itself.
    """
    key = _ZIPS[name]
    if url and url.endswith(".zip"):
        remote = RemoteFile(url=url, name=key)  # a mirror publishes no checksum: the zip test remains
    else:
        remote = zenodo_file(RAVDESS_RECORD, key, base=url or ZENODO)
    archive = fetch(remote, folder / key)
    count = extract_zip(archive, folder)
    archive.unlink()
    return count


# --------------------------------------------------------------------------- CREMA-D


@dataclass(frozen=True)
class GitHubSource:
    """Where a GitHub repository's listing, pointers and LFS media are read from."""

    repository: str = CREMA_D_REPOSITORY
    api: str = GITHUB_API
    raw: str = GITHUB_RAW
    media: str = GITHUB_MEDIA

    @classmethod
    def mirror(cls, root: str) -> GitHubSource:
        """A mirror serving the three under ``root/api``, ``root/raw`` and ``root/media``."""
        root = root.rstrip("/")
        return cls(api=f"{root}/api", raw=f"{root}/raw", media=f"{root}/media")


def parse_lfs_pointer(text: str) -> tuple[str, int] | None:
    """``(sha256, size)`` from a Git LFS pointer file, or None when ``text`` is not one."""
    fields = dict(line.split(" ", 1) for line in text.strip().splitlines() if " " in line)
    if not fields.get("version", "").startswith("https://git-lfs.github.com/spec/"):
        return None
    return fields["oid"].removeprefix("sha256:"), int(fields["size"])


def repository_paths(source: GitHubSource, branch: str) -> list[str]:
    """Every file path of ``branch`` except those inside the other media folders.

    One recursive listing of the whole repository (about 30,000 files: clips in WAV and MP3,
    videos) can come back truncated, so the top level is listed alone, AudioWAV/ alone, and the
    remaining folders recursively; AudioMP3/ and the Video*/ folders are not needed and skipped.
    """
    trees = f"{source.api}/repos/{source.repository}/git/trees"
    paths = []
    for entry in read_json(f"{trees}/{branch}").get("tree", []):
        name = entry["path"]
        if entry["type"] == "blob":
            paths.append(name)
        elif name == "AudioWAV" or not name.startswith(("Audio", "Video")):
            listing = read_json(f"{trees}/{entry['sha']}" + ("" if name == "AudioWAV" else "?recursive=1"))
            if listing.get("truncated"):
                raise DownloadError(
                    f"{source.repository}: GitHub truncated the listing of {name}/; try again later"
                )
            paths += [f"{name}/{e['path']}" for e in listing.get("tree", []) if e["type"] == "blob"]
    return paths


def crema_d_files(source: GitHubSource) -> Iterator[RemoteFile]:
    """The clips (LFS media, with their pointers' SHA-256 and size) and the two tables."""
    repository = read_json(f"{source.api}/repos/{source.repository}")
    branch = repository.get("default_branch", "master")
    paths = repository_paths(source, branch)
    tables = {}
    for wanted in ("VideoDemographics.csv", "summaryTable.csv"):
        found = sorted((p for p in paths if p.rsplit("/", 1)[-1] == wanted), key=len)
        if not found:
            raise DownloadError(f"{source.repository}: no {wanted} in branch {branch}")
        tables[wanted] = found[0]
    clips = sorted(p for p in paths if p.startswith("AudioWAV/") and p.endswith(".wav"))
    if not clips:
        raise DownloadError(f"{source.repository}: no AudioWAV/*.wav in branch {branch}")
    for name, path in tables.items():
        yield RemoteFile(url=f"{source.raw}/{source.repository}/{branch}/{path}", name=name)

    def pointer(path: str) -> RemoteFile:
        with _open(f"{source.raw}/{source.repository}/{branch}/{path}") as response:
            head = response.read(1024)
        parsed = parse_lfs_pointer(head.decode("utf-8", "replace"))
        if parsed is None:  # stored in git itself: the raw file is the clip
            return RemoteFile(url=f"{source.raw}/{source.repository}/{branch}/{path}", name=path)
        sha256, size = parsed
        return RemoteFile(
            url=f"{source.media}/{source.repository}/{branch}/{path}", name=path, size=size, sha256=sha256
        )

    with ThreadPoolExecutor(8) as pool:
        yield from tqdm(pool.map(pointer, clips), total=len(clips), desc="CREMA-D LFS pointers", unit="file")


def download_crema_d(folder: Path, *, url: str | None = None) -> int:
    """CREMA-D's clips into ``folder/AudioWAV`` and its two tables into ``folder``."""
    source = GitHubSource.mirror(url) if url else GitHubSource()
    files = list(crema_d_files(source))
    clips = [f for f in files if f.name.startswith("AudioWAV/")]
    for table in (f for f in files if f not in clips):
        fetch(table, folder / table.name, progress=False)
    with (
        ThreadPoolExecutor(8) as pool,
        tqdm(
            total=sum(c.size or 0 for c in clips), unit="B", unit_scale=True, desc="CREMA-D AudioWAV"
        ) as bar,
    ):

        def one(clip: RemoteFile) -> None:
            fetch(clip, folder / clip.name, progress=False)
            bar.update(clip.size or 0)

        list(pool.map(one, clips))
    return len(clips)


# --------------------------------------------------------------------------- entry points


def download(name: str, out: str | os.PathLike | None = None, *, url: str | None = None) -> Path:
    """Fetch corpus ``name`` (a key of :data:`CORPORA`) into ``out`` (default: the cache); return it.

    A folder already marked complete is returned as it is.
    """
    if name not in CORPORA:
        raise DownloadError(f"unknown corpus {name!r}; choose one of: {', '.join(CORPORA)}")
    folder = Path(out) if out else corpus_dir(name)
    if marker(folder, name).is_file():
        logger.info("%s is already in %s", name, folder)
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    if name == "crema-d":
        count = download_crema_d(folder, url=url)
    else:
        count = download_ravdess(name, folder, url=url)
    marker(folder, name).write_text(json.dumps({"corpus": name, "files": count, "source": url or "official"}))
    logger.info("%s: %d files in %s", name, count, folder)
    return folder


def cached_dataset_dir(dataset: str) -> str:
    """The cache folder a built-in ``--dataset`` reads when no ``--data_dir`` is given, downloaded
    first (after a notice, with no prompt) when it is not complete yet."""
    for name in DATASET_DOWNLOADS[dataset]:
        folder = corpus_dir(name)
        if not marker(folder, name).is_file():
            logger.warning(
                "--dataset %s without --data_dir: downloading %s into %s (once; pass --data_dir to use "
                "a copy you have)",
                dataset,
                CORPORA[name][1],
                folder,
            )
            download(name, folder)
    return str(corpus_dir(DATASET_DOWNLOADS[dataset][0]))
