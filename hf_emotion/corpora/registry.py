"""The built-in corpora, one line each, and the tables the rest of the package reads from them.

Adding a corpus is writing its module (see docs/CORPORA.md), importing its ``REGISTRY_ENTRIES``
here and adding them to :data:`REGISTRY`; ``--dataset``, ``hf-emotion data download`` and the model card take it from here.
"""

from __future__ import annotations

from .corpus import Corpus, Download
from .crema_d import REGISTRY_ENTRIES as CREMA_D
from .emodb import REGISTRY_ENTRIES as EMODB
from .iemocap import REGISTRY_ENTRIES as IEMOCAP
from .msp_podcast import REGISTRY_ENTRIES as MSP_PODCAST
from .ravdess import REGISTRY_ENTRIES as RAVDESS
from .savee import REGISTRY_ENTRIES as SAVEE
from .tess import REGISTRY_ENTRIES as TESS

#: Every built-in --dataset name, in the order --help and error messages list them.
REGISTRY: tuple[Corpus, ...] = (
    *RAVDESS,
    *CREMA_D,
    *TESS,
    *SAVEE,
    *EMODB,
    *IEMOCAP,
    *MSP_PODCAST,
)


def find_corpus(name: str) -> Corpus | None:
    """The built-in corpus ``--dataset name`` reads (``iemocap_all`` is IEMOCAP's), or None."""
    return next((corpus for corpus in REGISTRY if corpus.reads(name)), None)


#: The built-in --dataset names (their variants, such as ``iemocap_all``, are not listed).
BUILTIN_CORPORA: tuple[str, ...] = tuple(corpus.name for corpus in REGISTRY)

#: Corpus id -> its licence with citation.
LICENCES: dict[str, str] = {corpus.corpus_id: corpus.licence.terms for corpus in REGISTRY}

#: The corpora a model card names, by --dataset name: (name on the card, Hub licence id of the
#: recordings, where they come from, key in `LICENCES`).
CARD_CORPORA: dict[str, tuple[str, str, str, str]] = {
    corpus.name: (corpus.title, corpus.licence.hub_id, corpus.source, corpus.corpus_id)
    for corpus in REGISTRY
    if corpus.licence.hub_id
}

#: Hub licence id -> its short name, for the licences of `CARD_CORPORA`.
LICENSE_NAMES: dict[str, str] = {
    corpus.licence.hub_id: corpus.licence.name for corpus in REGISTRY if corpus.licence.hub_id
}

#: ``hf-emotion data download NAME``: every download, by name.
DOWNLOADS: dict[str, Download] = {
    download.name: download for corpus in REGISTRY for download in corpus.downloads
}

#: Download name -> (cache folder, what it is).
CORPORA: dict[str, tuple[str, str]] = {name: (d.folder, d.description) for name, d in DOWNLOADS.items()}
