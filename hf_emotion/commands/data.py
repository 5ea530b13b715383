"""``hf-emotion data download ravdess|ravdess-song|crema-d [--out DIR] [--url URL]``: fetch a corpus."""

from __future__ import annotations

import argparse
import logging

from ..download import CORPORA, DownloadError, data_home, download

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    fetch = actions.add_parser(
        "download",
        help="download a corpus from its official source, check it and lay it out for --dataset",
        description="; ".join(f"{name}: {what}" for name, (_, what) in CORPORA.items()),
    )
    fetch.add_argument("corpus", choices=list(CORPORA), help="which corpus")
    fetch.add_argument(
        "--out",
        default=None,
        help=f"folder to fill (default: {data_home()}/ravdess for both RAVDESS zips, .../crema-d)",
    )
    fetch.add_argument(
        "--url",
        default=None,
        help="another source: for RAVDESS a Zenodo-compatible server root or the zip's own URL; for "
        "CREMA-D a mirror serving GitHub's API, raw and LFS media under URL/api, URL/raw, URL/media",
    )


def run(args: argparse.Namespace) -> int:
    try:
        folder = download(args.corpus, args.out, url=args.url)
    except DownloadError as error:
        logger.error("%s", error)
        return 2
    print(folder)
    return 0
