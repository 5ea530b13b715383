"""The local cache of downloaded corpora: ``hf-emotion data download`` and ``--dataset`` without ``--data_dir``.

Downloads land in ``~/.cache/hf_emotion/data/<folder>`` (``$HF_EMOTION_HOME/data`` when set)
unless told otherwise. A folder is complete once its marker file is written, so a second call,
or a training run pointed at the cache, does nothing more. What each download fetches, and from
where, its corpus module says (see ``registry.DOWNLOADS``).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from ..errors import MissingInputError
from .download import DownloadError
from .registry import CORPORA, DOWNLOADS, find_corpus

logger = logging.getLogger(__name__)


def data_home() -> Path:
    """``$HF_EMOTION_HOME/data``, else ``~/.cache/hf_emotion/data``."""
    home = os.environ.get("HF_EMOTION_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "hf_emotion")
    return Path(home) / "data"


def corpus_dir(name: str) -> Path:
    """The cache folder of download ``name`` (it may not exist yet)."""
    return data_home() / DOWNLOADS[name].folder


def marker(folder: Path, name: str) -> Path:
    """The file that says download ``name`` finished in ``folder``."""
    return folder / f".hf_emotion-{name}.json"


def download(name: str, out: str | os.PathLike | None = None, *, url: str | None = None) -> Path:
    """Fetch corpus ``name`` (a key of :data:`CORPORA`) into ``out`` (default: the cache); return it.

    A folder already marked complete is returned as it is.
    """
    if name not in DOWNLOADS:
        raise DownloadError(f"unknown corpus {name!r}; choose one of: {', '.join(CORPORA)}")
    folder = Path(out) if out else corpus_dir(name)
    if marker(folder, name).is_file():
        logger.info("%s is already in %s", name, folder)
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    count = DOWNLOADS[name].fetch(folder, url)
    if count == 0:  # a folder marked complete is never fetched again: an empty one would stay empty
        raise DownloadError(
            f"{name} from {url or 'its official source'}: no audio files came with it, so {folder} is not marked "
            "complete; check --url (it should serve the corpus's own files)"
        )
    marker(folder, name).write_text(json.dumps({"corpus": name, "files": count, "source": url or "official"}))
    logger.info("%s: %d files in %s", name, count, folder)
    return folder


def cached_dataset_dir(dataset: str) -> str:
    """The cache folder a built-in ``--dataset`` reads when no ``--data_dir`` is given, downloaded
    first (after a notice, with no prompt) when it is not complete yet.

    Raises:
        MissingInputError: ``dataset`` cannot be downloaded here, so it needs ``--data_dir``.
    """
    corpus = find_corpus(dataset)
    if corpus is None or not corpus.downloads:
        raise MissingInputError(f"--dataset {dataset} needs --data_dir pointing at its folder")
    for fetched in corpus.downloads:
        folder = corpus_dir(fetched.name)
        if not marker(folder, fetched.name).is_file():
            logger.warning(
                "--dataset %s without --data_dir: downloading %s into %s (once; pass --data_dir to use "
                "a copy you have)",
                dataset,
                fetched.description,
                folder,
            )
            download(fetched.name, folder)
    return str(corpus_dir(corpus.downloads[0].name))
