"""What the package knows of a built-in corpus, as data: how ``--dataset`` reads it, its licence, its source.

Each corpus module (``ravdess.py``, ``tess.py``, ...) describes itself with these classes, and
``registry.py`` lists those descriptions; this module imports neither, so neither imports the other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets

#: ``load(name, data_dir, options)``: the ``--dataset`` name (a variant such as ``iemocap_all`` differs
#: from the corpus's own), its folder, and ``load_corpus``'s keyword options, of which a loader reads
#: its own (``channel``, ``label_source``) and ignores the others.
Loader = Callable[[str, str, Mapping[str, Any]], datasets.Dataset]


@dataclass(frozen=True)
class Licence:
    """The terms a corpus's recordings come under.

    Attributes:
        terms: the licence with its citation, one line (a model card quotes it).
        name: the licence's short name (``"CC BY-NC-SA 4.0"``).
        hub_id: the Hub's licence id (``"cc-by-nc-sa-4.0"``) when a model card may name it as the
            model's licence; None keeps the corpus off the card's list (its card calls it unknown).
    """

    terms: str
    name: str
    hub_id: str | None = None


@dataclass(frozen=True)
class Download:
    """One ``hf-emotion data download NAME``: where it lands and how it is fetched.

    Attributes:
        name: the command's argument (``"ravdess-song"``).
        folder: its folder in the cache (``data_home()/<folder>``); downloads may share one.
        description: what it fetches from where, for ``--help`` and the notice before a download.
        fetch: ``fetch(folder, url)`` fills ``folder`` from the official source, or from ``url`` (a
            mirror) when given, and returns the number of audio files it wrote.
    """

    name: str
    folder: str
    description: str
    fetch: Callable[[Path, str | None], int]


def _reads_no_other_name(name: str) -> bool:
    return False


@dataclass(frozen=True)
class Corpus:
    """One built-in ``--dataset`` name: how it loads and what a model card says about it.

    Attributes:
        name: the ``--dataset`` name, listed in ``BUILTIN_CORPORA`` (``"ravdess_speech"``).
        corpus_id: the ``corpus`` column of its clips and its key in ``LICENCES``; the names of one
            corpus share it (``ravdess``, ``ravdess_speech`` and ``ravdess_song`` are ``"ravdess"``).
        title: its name on a model card (``"RAVDESS speech"``).
        licence: the recordings' licence.
        source: where the recordings come from (a URL).
        load: reads a folder of it (see :data:`Loader`).
        downloads: what ``--dataset NAME`` without ``--data_dir`` fetches into the cache first;
            empty when the corpus cannot be downloaded for the user (registration, agreements).
        also_reads: whether a further ``--dataset`` name, not listed, is a variant ``load`` reads
            (``iemocap_all``, ``msp_podcast_test1``).
        parse_file_name: parses one of its file names or raises ValueError; set where its names are
            distinctive enough to tell a generic dataset "read me with ``--dataset NAME``".
        language: the ISO 639-1 code of what its speakers speak (a model card's ``language``).
        hub_dataset: the Hub dataset id of the corpus as its publishers put it there, for a model card's
            ``datasets``; None where there is none (a card then names the corpus in its text only). Never a
            copy uploaded by someone else: the card must name what the model was trained on.
    """

    name: str
    corpus_id: str
    title: str
    licence: Licence
    source: str
    load: Loader
    downloads: tuple[Download, ...] = ()
    also_reads: Callable[[str], bool] = _reads_no_other_name
    parse_file_name: Callable[[str], object] | None = None
    language: str = "en"
    hub_dataset: str | None = None

    def reads(self, name: str) -> bool:
        """Whether ``--dataset name`` is this corpus or one of its variants."""
        return name == self.name or self.also_reads(name)
