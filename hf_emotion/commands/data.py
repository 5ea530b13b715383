"""``hf-emotion data download ravdess|ravdess-song|crema-d [--out DIR] [--url URL]``: fetch a corpus."""

from __future__ import annotations

import argparse

from ..corpora import CORPORA, data_home, download


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
    # A DownloadError (offline, a cut transfer, a bad checksum) is a user error: the CLI prints
    # its one line and exits with status 2.
    print(download(args.corpus, args.out, url=args.url))
    return 0
