"""``hf-emotion data download`` against a local HTTP server laid out like Zenodo and GitHub.

Nothing here reaches the internet: the server runs in a thread on 127.0.0.1 and serves a small
zip in the RAVDESS record's layout (48 kHz WAVs made by the test), a CREMA-D repository with
Git LFS pointers and media, a transfer cut half way, and a record whose checksum is wrong.
"""

from __future__ import annotations

import hashlib
import json
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import hf_emotion.corpora as dl
from hf_emotion.cli import main as cli_main
from hf_emotion.corpora import crema_d, load_corpus, ravdess
from tests.synth import make_crema_d_tree, make_ravdess_tree

SPEECH_ZIP = "Audio_Speech_Actors_01-24.zip"


class Files(BaseHTTPRequestHandler):
    """Serves ``server.files`` (path -> bytes) with Range support; paths in ``server.cut`` are
    cut half way the first time they are asked for (Content-Length promises the whole file)."""

    def do_GET(self):  # noqa: N802 (http.server's name)
        server = self.server
        server.requests.append((self.path, self.headers.get("Range")))
        body = server.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        start = 0
        if self.headers.get("Range"):
            start = int(self.headers["Range"].removeprefix("bytes=").split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        if self.path in server.cut:
            server.cut.discard(self.path)
            self.wfile.write(body[start : start + len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(2)  # a dropped connection, mid-file
            return
        self.wfile.write(body[start:])

    def log_message(self, *args):
        pass


@pytest.fixture()
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Files)
    httpd.files, httpd.cut, httpd.requests = {}, set(), []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def cache_home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("HF_EMOTION_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def ravdess_zip(tmp_path: Path) -> bytes:
    """A zip laid out as Zenodo's: Actor_XX/03-01-...wav at the top, 48 kHz WAVs."""
    tree = make_ravdess_tree(tmp_path / "tree", actors=(1, 2), sampling_rate=48_000, seconds=0.3)
    archive = tmp_path / SPEECH_ZIP
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for wav in sorted(tree.rglob("*.wav")):
            zipped.write(wav, wav.relative_to(tree).as_posix())
    return archive.read_bytes()


def serve_zenodo_record(server, body: bytes, *, md5: str | None = None) -> str:
    """The record's API entry (as zenodo.org/api/records/1188976 publishes it) and the file."""
    content = f"/api/records/{ravdess.ZENODO_RECORD}/files/{SPEECH_ZIP}/content"
    record = {
        "id": int(ravdess.ZENODO_RECORD),
        "files": [
            {
                "key": SPEECH_ZIP,
                "size": len(body),
                "checksum": f"md5:{md5 or hashlib.md5(body).hexdigest()}",
                "links": {"self": server.url + content},
            }
        ],
    }
    server.files[f"/api/records/{ravdess.ZENODO_RECORD}"] = json.dumps(record).encode()
    server.files[content] = body
    return content


def test_ravdess_download_resumes_a_cut_transfer_checks_and_extracts(server, tmp_path, cache_home):
    body = ravdess_zip(tmp_path)
    content = serve_zenodo_record(server, body)
    server.cut.add(content)

    with pytest.raises(dl.DownloadError, match="cut after .* run the command again to resume"):
        dl.download("ravdess", url=server.url)
    folder = cache_home / "data" / "ravdess"
    part = folder / (SPEECH_ZIP + ".part")
    assert 0 < part.stat().st_size < len(body)  # what arrived is kept

    assert dl.download("ravdess", url=server.url) == folder
    ranges = [r for path, r in server.requests if path == content]
    assert ranges == [None, f"bytes={len(body) // 2}-"]  # asked only for the rest
    wavs = sorted(folder.glob("Actor_*/*.wav"))
    assert len(wavs) == 2 * 15 and not part.exists() and not (folder / SPEECH_ZIP).exists()

    # --dataset ravdess_speech without --data_dir reads the cache; no second download.
    before = len(server.requests)
    dataset = load_corpus("ravdess_speech")
    assert len(dataset) == 30 and set(dataset["speaker"]) == {"ravdess-01", "ravdess-02"}
    assert len(server.requests) == before


def test_a_wrong_checksum_deletes_the_file_and_says_so(server, tmp_path, cache_home):
    serve_zenodo_record(server, ravdess_zip(tmp_path), md5="0" * 32)
    with pytest.raises(dl.DownloadError, match="md5 .* the source says 0{32}; the file was deleted"):
        dl.download("ravdess", url=server.url)
    folder = cache_home / "data" / "ravdess"
    assert not list(folder.glob("*.zip*")) and not list(folder.glob("Actor_*"))


def test_a_corrupt_zip_fails_its_test_before_extraction(server, tmp_path, cache_home):
    body = bytearray(ravdess_zip(tmp_path))
    body[200] ^= 0xFF  # inside the first member's compressed data
    serve_zenodo_record(server, bytes(body))  # the checksum matches the damaged file
    with pytest.raises(dl.DownloadError, match="CRC|not a valid zip"):
        dl.download("ravdess", url=server.url)
    assert not list((cache_home / "data" / "ravdess").glob("Actor_*"))


def test_offline_is_one_clear_line_and_exit_status_2(tmp_path, capsys):
    closed = "http://127.0.0.1:9"  # the discard port: nothing listens
    assert cli_main(["data", "download", "ravdess", "--out", str(tmp_path / "r"), "--url", closed]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot reach 127.0.0.1:9"), lines
    assert "are you offline?" in lines[0]


def lfs_pointer(body: bytes) -> bytes:
    oid = hashlib.sha256(body).hexdigest()
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {len(body)}\n".encode()


def serve_crema_d_repository(server, root: Path) -> None:
    """GitHub's API (repository, trees), raw pointers and LFS media for a small CREMA-D."""
    repo = crema_d.GITHUB_REPOSITORY
    tables = {
        "VideoDemographics.csv": "VideoDemographics.csv",
        "summaryTable.csv": "processedResults/summaryTable.csv",
    }
    clips = sorted(root.glob("AudioWAV/*.wav"))
    top = [
        {"path": "VideoDemographics.csv", "type": "blob", "sha": "a1"},
        {"path": "processedResults", "type": "tree", "sha": "b2"},
        {"path": "AudioWAV", "type": "tree", "sha": "c3"},
        {"path": "AudioMP3", "type": "tree", "sha": "d4"},  # not needed: never listed
    ]
    trees = f"/api/repos/{repo}/git/trees"
    server.files[f"/api/repos/{repo}"] = json.dumps({"default_branch": "master"}).encode()
    server.files[f"{trees}/master"] = json.dumps({"tree": top}).encode()
    summary = [{"path": "summaryTable.csv", "type": "blob"}]
    server.files[f"{trees}/b2?recursive=1"] = json.dumps({"tree": summary}).encode()
    wavs = [{"path": c.name, "type": "blob"} for c in clips]
    server.files[f"{trees}/c3"] = json.dumps({"tree": wavs}).encode()
    for name, path in tables.items():
        server.files[f"/raw/{repo}/master/{path}"] = (root / name).read_bytes()
    for clip in clips:
        server.files[f"/raw/{repo}/master/AudioWAV/{clip.name}"] = lfs_pointer(clip.read_bytes())
        server.files[f"/media/{repo}/master/AudioWAV/{clip.name}"] = clip.read_bytes()


def test_crema_d_fetches_lfs_media_not_pointers_and_finds_the_tables(server, tmp_path, cache_home):
    source = make_crema_d_tree(tmp_path / "source", actors=(1001, 1002), sentences=("IEO",))
    serve_crema_d_repository(server, source)
    folder = dl.download("crema-d", url=server.url)
    assert folder == cache_home / "data" / "crema-d"
    for clip in source.glob("AudioWAV/*.wav"):
        assert (
            folder / "AudioWAV" / clip.name
        ).read_bytes() == clip.read_bytes()  # media, checked by SHA-256
    assert (folder / "summaryTable.csv").read_bytes() == (source / "summaryTable.csv").read_bytes()
    dataset = load_corpus("crema_d", label_source="perceived")  # the cache, with both tables
    assert len(dataset) == len(list(source.glob("AudioWAV/*.wav"))) and set(dataset["gender"]) == {
        "female",
        "male",
    }


def test_crema_d_media_that_does_not_match_its_pointer_is_refused(server, tmp_path):
    source = make_crema_d_tree(tmp_path / "source", actors=(1001,), sentences=("IEO",))
    serve_crema_d_repository(server, source)
    first = sorted(source.glob("AudioWAV/*.wav"))[0].name
    server.files[f"/media/{crema_d.GITHUB_REPOSITORY}/master/AudioWAV/{first}"] += b"x"
    with pytest.raises(dl.DownloadError, match="bytes, the source says"):
        dl.download("crema-d", out=tmp_path / "out", url=server.url)


def test_a_builtin_dataset_without_data_dir_is_downloaded_after_a_notice(
    server, tmp_path, cache_home, monkeypatch, caplog
):
    serve_zenodo_record(server, ravdess_zip(tmp_path))
    monkeypatch.setattr(ravdess, "ZENODO", server.url)  # the official source, served here
    dataset = load_corpus("ravdess_speech")  # as finetune.py --dataset ravdess_speech, no --data_dir
    assert "--dataset ravdess_speech without --data_dir: downloading RAVDESS speech" in caplog.text
    assert len(dataset) == 30 and (cache_home / "data" / "ravdess" / ".hf_emotion-ravdess.json").is_file()
