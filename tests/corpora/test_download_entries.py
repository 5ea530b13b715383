"""Names a download's source gives (a repository listing, a zip's entries) stay inside ``--out``.

A hostile or broken mirror, served from a local HTTP server: listing names that climb out of the folder
(``../../x.wav``) or start at the root, a zip with such an entry, and a zip with no audio at all. Each stops
the download with one line (exit status 2) and leaves nothing outside the folder, nor a folder marked complete.
"""

from __future__ import annotations

import json
import threading
import zipfile
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

import hf_emotion.corpora as dl
from hf_emotion.cli import main as cli_main
from hf_emotion.corpora import cache, crema_d
from tests.cli_checks import one_error_line as _one_error_line
from tests.corpora.test_download import SPEECH_ZIP, Files, lfs_pointer, ravdess_zip, serve_crema_d_repository
from tests.synth import emotion_signal, make_crema_d_tree, write_audio

TREES = f"/api/repos/{crema_d.GITHUB_REPOSITORY}/git/trees"


@pytest.fixture()
def server():
    """The mirror: ``server.files`` (path -> bytes) served on 127.0.0.1, as in test_download.py."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Files)
    httpd.files, httpd.cut, httpd.requests = {}, set(), []
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_EMOTION_HOME", str(tmp_path / "home"))


def serve_listed_clip(server, listed: str, body: bytes) -> None:
    """One more blob in the repository's AudioWAV/ listing under the name ``listed``, with its pointer and media."""
    listing = json.loads(server.files[f"{TREES}/c3"])
    listing["tree"].append({"path": listed, "type": "blob"})
    server.files[f"{TREES}/c3"] = json.dumps(listing).encode()
    repo = crema_d.GITHUB_REPOSITORY
    server.files[f"/raw/{repo}/master/AudioWAV/{listed}"] = lfs_pointer(body)
    server.files[f"/media/{repo}/master/AudioWAV/{listed}"] = body


@pytest.mark.parametrize("listed", ["../../x.wav", "../../../../tmp/x.wav", "1001_IEO_ANG_HI/../../../x.wav"])
def test_crema_d_listing_names_that_climb_out_of_out_stop_the_download(server, tmp_path, capsys, listed):
    source = make_crema_d_tree(tmp_path / "source", actors=(1001,), sentences=("IEO",))
    serve_crema_d_repository(server, source)
    body = write_audio(tmp_path / "evil.wav", emotion_signal("angry", 0.2)).read_bytes()
    serve_listed_clip(server, listed, body)
    out = tmp_path / "a" / "b" / "c" / "out"
    escaped = (out / "AudioWAV" / listed).resolve()
    assert not escaped.is_relative_to(out)

    status = cli_main(["data", "download", "crema-d", "--out", str(out), "--url", server.url])

    line = _one_error_line(capsys)
    assert status == 2 and f"'AudioWAV/{listed}' would be written outside {out}" in line, line
    assert not escaped.exists()
    written = [p for p in tmp_path.rglob("*") if p.is_file() and not p.is_relative_to(tmp_path / "source")]
    assert [p for p in written if not p.is_relative_to(out)] == [tmp_path / "evil.wav"]
    assert not cache.marker(out, "crema-d").exists()
    media = [path for path, _ in server.requests if path.startswith("/media/")]
    assert media == []  # stopped on the listing, before any clip was fetched


def test_crema_d_listing_with_an_absolute_name_stops_the_download(server, tmp_path, capsys):
    source = make_crema_d_tree(tmp_path / "source", actors=(1001,), sentences=("IEO",))
    serve_crema_d_repository(server, source)
    top = json.loads(server.files[f"{TREES}/master"])
    absolute = str(tmp_path / "elsewhere" / "x.wav")
    top["tree"].append({"path": absolute, "type": "blob", "sha": "e5"})
    server.files[f"{TREES}/master"] = json.dumps(top).encode()
    out = tmp_path / "out"

    status = cli_main(["data", "download", "crema-d", "--out", str(out), "--url", server.url])

    assert status == 2 and f"{absolute!r} would be written outside {out}" in _one_error_line(capsys)
    assert not (tmp_path / "elsewhere").exists() and not cache.marker(out, "crema-d").exists()


def serve_zip(server, tmp_path: Path, entries: dict[str, bytes]) -> str:
    """A zip holding ``entries`` (name -> bytes, names written as given), served at its own URL."""
    archive = tmp_path / "mirror.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for name, body in entries.items():
            zipped.writestr(zipfile.ZipInfo(name), body)
    server.files["/mirror/" + SPEECH_ZIP] = archive.read_bytes()
    return f"{server.url}/mirror/{SPEECH_ZIP}"


@pytest.mark.parametrize("entry", ["../x.wav", "Actor_01/../../x.wav", "/abs/x.wav"])
def test_a_zip_entry_outside_out_stops_the_extraction(server, tmp_path, capsys, entry):
    clip = write_audio(tmp_path / "clip.wav", emotion_signal("happy", 0.2)).read_bytes()
    url = serve_zip(server, tmp_path, {"Actor_01/03-01-03-01-01-01-01.wav": clip, entry: clip})
    out = tmp_path / "deep" / "out"

    status = cli_main(["data", "download", "ravdess", "--out", str(out), "--url", url])

    line = _one_error_line(capsys)
    assert status == 2 and f"the entry {entry!r} would be written outside {out}" in line, line
    assert not list(out.rglob("*.wav")) and not (tmp_path / "deep" / "x.wav").exists()
    assert not cache.marker(out, "ravdess").exists()


def test_a_zip_with_no_audio_is_not_marked_complete(server, tmp_path, capsys):
    url = serve_zip(server, tmp_path, {"README.txt": b"nothing here", "Actor_01/notes.csv": b"a,b\n"})
    out = tmp_path / "out"

    assert cli_main(["data", "download", "ravdess", "--out", str(out), "--url", url]) == 2
    line = _one_error_line(capsys)
    assert f"no audio files came with it, so {out} is not marked complete" in line, line
    assert not cache.marker(out, "ravdess").exists()

    # Once the mirror serves the corpus, the same command fetches it: nothing was taken as done.
    server.files["/mirror/" + SPEECH_ZIP] = ravdess_zip(tmp_path)
    assert dl.download("ravdess", out, url=url) == out
    assert len(list(out.glob("Actor_*/*.wav"))) == 30 and cache.marker(out, "ravdess").is_file()
