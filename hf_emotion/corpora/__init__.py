"""Emotion corpora → ``datasets.Dataset`` with the standard columns; what each corpus is and where it comes from.

One module per corpus (``ravdess``, ``crema_d``, ``tess``, ``savee``, ``emodb``, ``iemocap``,
``msp_podcast``; ``generic`` for any other dataset), listed in ``registry``; docs/CORPORA.md says
how to add one. Code outside this package imports from here, never from the modules inside it.
"""

from .cache import cached_dataset_dir, data_home, download
from .corpus import Licence
from .crema_d import load_crema_d, parse_crema_d_name
from .dataset import AUDIO_EXTENSIONS, STANDARD_COLUMNS
from .download import DownloadError
from .emodb import load_emodb
from .generic import load_audio_dataset
from .iemocap import load_iemocap
from .loading import check_generic_dataset, load_corpora, load_corpus, unify_labels
from .msp_podcast import load_msp_podcast
from .ravdess import RAVDESS_EMOTION_CODES, load_ravdess, parse_ravdess_name
from .registry import BUILTIN_CORPORA, CARD_CORPORA, CORPORA, LICENCES, LICENSE_NAMES, find_corpus
from .savee import load_savee
from .tess import load_tess

__all__ = [
    "AUDIO_EXTENSIONS",
    "BUILTIN_CORPORA",
    "CARD_CORPORA",
    "CORPORA",
    "DownloadError",
    "LICENCES",
    "LICENSE_NAMES",
    "Licence",
    "RAVDESS_EMOTION_CODES",
    "STANDARD_COLUMNS",
    "cached_dataset_dir",
    "check_generic_dataset",
    "data_home",
    "download",
    "find_corpus",
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
