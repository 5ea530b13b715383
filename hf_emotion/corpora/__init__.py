"""Emotion corpora → ``datasets.Dataset`` with the standard columns; what each corpus is and where it comes from.

Code outside this package imports from here, never from the modules inside it.
"""

from .download import CORPORA, DownloadError, cached_dataset_dir, data_home, download
from .layouts import load_emodb, load_iemocap, load_msp_podcast, load_savee, load_tess
from .loading import (
    AUDIO_EXTENSIONS,
    BUILTIN_CORPORA,
    CARD_CORPORA,
    LICENCES,
    LICENSE_NAMES,
    STANDARD_COLUMNS,
    check_generic_dataset,
    load_audio_dataset,
    load_corpora,
    load_corpus,
    load_crema_d,
    load_ravdess,
    parse_crema_d_name,
    parse_ravdess_name,
    unify_labels,
)

__all__ = [
    "AUDIO_EXTENSIONS",
    "BUILTIN_CORPORA",
    "CARD_CORPORA",
    "CORPORA",
    "DownloadError",
    "LICENCES",
    "LICENSE_NAMES",
    "STANDARD_COLUMNS",
    "cached_dataset_dir",
    "check_generic_dataset",
    "data_home",
    "download",
    "load_audio_dataset",
    "load_corpora",
    "load_corpus",
    "load_crema_d",
    "load_emodb",
    "load_iemocap",
    "load_msp_podcast",
    "load_ravdess",
    "load_savee",
    "load_tess",
    "parse_crema_d_name",
    "parse_ravdess_name",
    "unify_labels",
]
