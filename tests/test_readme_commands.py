"""The README's commands as written: every line of its ```bash blocks and every ```python block runs, in a fresh
venv where the package was installed as the Install block says.

The commands are read from README.md when the tests are collected, so an edited command is the one that runs,
and a new one runs (and fails, until it works here or is listed in :data:`SKIPPED` with its reason). Nothing in a
command is rewritten except :data:`SUBSTITUTIONS`; instead, what the commands name is put where they look: a tiny
random model at ``outputs/whisper-tiny.en-general`` (and its ``fold_0/`` with a ``splits.json``), synthetic
clips at ``clip.wav`` and ``meeting.wav``, a synthetic CREMA-D at ``D``, a synthetic RAVDESS in the download cache
(``$HF_EMOTION_HOME``), all in a copy of the checkout, where a user runs them.

The venv reuses this interpreter's libraries (:mod:`tests.fresh_venv`), so installing takes seconds and no
network; ``pip`` and ``accelerate`` there are two-line scripts over this interpreter's, as a venv with pip and a
first install of accelerate would have them.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
import urllib.request
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

import hf_emotion
from hf_emotion.corpora.cache import marker
from hf_emotion.data.labels import EMOTIONS
from hf_emotion.data.splits import Split
from tests.fresh_venv import REPOSITORY, clean_env, copy_checkout, fresh_venv
from tests.serving.test_inference import make_emotion_model_dir
from tests.synth import emotion_signal, make_crema_d_tree, make_ravdess_tree, write_audio

README = REPOSITORY / "README.md"
INSTALL_SECTION = "Install"

DOWNLOADS = (
    "fetches from Zenodo or GitHub (no network here); tests/corpora/test_download.py serves them locally"
)
#: Commands that cannot run here, by their text in the README (continuation lines joined, comment dropped).
SKIPPED = {
    "hf-emotion data download ravdess": DOWNLOADS,
    "hf-emotion data download ravdess-song": DOWNLOADS,
    "hf-emotion data download crema-d": DOWNLOADS,
    "accelerate launch --quiet finetune.py configs/whisper-tiny.en-ravdess-speech.json "
    "--data_dir ../shared/data/ravdess-speech": "6 folds of real training, about 50 minutes; "
    "test_the_main_job_stops_on_a_bad_data_dir_in_one_line runs it on a missing --data_dir",
    "accelerate launch --quiet finetune.py configs/whisper-tiny.en-general.json": "6 folds and a final model "
    "on three corpora, about 2 hours; tests/training/test_general_model.py runs that run file's path on tiny data",
    "accelerate config": "asks its questions interactively",
    "accelerate launch --quiet --multi_gpu --num_processes 2 finetune.py "
    "configs/whisper-tiny.en-ravdess-speech.json --bf16": "needs two GPUs and real training; "
    "tests/training/test_distributed.py runs two processes on the CPU",
    "pip install torch==2.13.0 && pip install -c constraints.txt -e '.[dev]'": "the development install, "
    "editable: .ci/run runs it before this suite",
    "python -m pytest": "this suite itself",
}

#: (README text, what runs instead, why): the only edits made to a command before it runs.
SUBSTITUTIONS = (
    (
        "pip install '.[",
        "pip install --no-build-isolation '.[",
        "setuptools from this interpreter: pip's isolated build would download it",
    ),
)

#: Commands that serve until stopped: they pass once they answer HTTP at the address they print.
SERVING = ("hf-emotion demo ",)

#: Commands run this many at a time once the package is installed: on 2 cores one imports torch while another
#: computes. So each must stand alone, as a reader may run any one of them.
PARALLEL = 2
MAIN_JOB_FAILURE = "the main job on a missing --data_dir"

MODEL = "outputs/whisper-tiny.en-general"  # what the general run file writes, as the Use section names it
TIMEOUT = 300


@dataclass(frozen=True)
class Snippet:
    """One command of a ```bash block (with the variables set before it in that block), or a ```python block."""

    section: str
    language: str
    code: str
    variables: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """How :data:`SKIPPED` names it: a command's text; a python block by its section."""
        return self.code if self.language == "bash" else f"python block in {self.section}"


def without_comment(line: str) -> str:
    """``line`` up to a ``#`` that starts a shell comment (outside quotes, at the start or after a blank)."""
    quote = None
    for i, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def bash_commands(section: str, block: str) -> list[Snippet]:
    """The commands of a bash block: continuation lines joined, comments dropped, ``NAME=value`` lines kept as
    variables for the commands after them."""
    commands, variables = [], []
    for line in re.sub(r"\\\n\s*", "", block).splitlines():
        command = " ".join(without_comment(line).split())
        if re.fullmatch(r"[A-Za-z_]\w*=\S+", command):
            variables.append(command)
        elif command:
            commands.append(Snippet(section, "bash", command, tuple(variables)))
    return commands


def readme_snippets(text: str) -> list[Snippet]:
    """Every bash command and python block of the README, in order."""
    snippets, section = [], ""
    for match in re.finditer(r"^## ([^\n]+)$|^```(\w*)\n(.*?)^```$", text, flags=re.M | re.S):
        heading, language, block = match.groups()
        if heading:
            section = heading.strip()
        elif language == "bash":
            snippets += bash_commands(section, block)
        elif language == "python":
            snippets.append(Snippet(section, "python", block))
    return snippets


SNIPPETS = readme_snippets(README.read_text())


def substituted(command: str) -> str:
    for old, new, _ in SUBSTITUTIONS:
        command = command.replace(old, new)
    return command


@dataclass
class Workspace:
    checkout: Path  # a copy of the repository, where the commands run
    python: Path  # the venv's
    env: dict[str, str]
    snippets: Path  # where python blocks go: outside the checkout, which would shadow the installed package
    install: dict[str, subprocess.CompletedProcess] = field(
        default_factory=dict
    )  # the Install section's, in order
    running: dict[str, Future] = field(default_factory=dict)  # the other commands', by key, as they finish


def run_snippet(snippet: Snippet, space: Workspace) -> subprocess.CompletedProcess:
    if snippet.language == "python":
        script = space.snippets / f"block_{SNIPPETS.index(snippet)}.py"
        script.write_text(snippet.code)
        argv = [str(space.python), str(script)]
    else:
        argv = ["bash", "-c", "; ".join(["set -e", *snippet.variables, substituted(snippet.code)])]
    return subprocess.run(
        argv, cwd=space.checkout, env=space.env, capture_output=True, text=True, timeout=TIMEOUT
    )


def command_scripts(bin_dir: Path) -> None:
    """``pip`` and ``accelerate`` in the venv: pip puts them there in a real one (pip with the venv, accelerate when
    the package's requirements install it); here both libraries come from this interpreter's site-packages."""
    python = bin_dir / "python"
    (bin_dir / "pip").write_text(f'#!/bin/sh\nexec "{python}" -m pip "$@"\n')
    (bin_dir / "accelerate").write_text(
        f"#!{python}\nimport sys\nfrom accelerate.commands.accelerate_cli import main\nsys.exit(main())\n"
    )
    for name in ("pip", "accelerate"):
        (bin_dir / name).chmod(0o755)


def place_inputs(checkout: Path, home: Path, encoder: Path) -> None:
    """What the README's commands name, made here: the model folders, the clips, the corpora."""
    model = make_emotion_model_dir(encoder, checkout / MODEL, labels=list(EMOTIONS))
    make_emotion_model_dir(encoder, model / "fold_0", labels=list(EMOTIONS))
    Split(
        "speaker_folds",
        train=["ravdess-05", "ravdess-06", "crema_d-1001"],
        validation=["ravdess-07"],
        test=["ravdess-08", "crema_d-1002"],  # the general run's folds test every corpus
    ).to_json(model / "fold_0" / "splits.json")
    write_audio(checkout / "clip.wav", emotion_signal("happy", 1.0))
    pause = np.zeros(16_000, dtype=np.float32)
    write_audio(
        checkout / "meeting.wav",
        np.concatenate([emotion_signal("angry", 1.5), pause, emotion_signal("sad", 1.5, seed=1)]),
    )
    make_crema_d_tree(checkout / "D", actors=(1001, 1002), sentences=("IEO",))
    # --dataset ravdess without --data_dir reads the download cache: both of its downloads marked complete.
    ravdess = make_ravdess_tree(home / "data" / "ravdess", actors=(5, 6, 7, 8))
    for name in ("ravdess", "ravdess-song"):
        marker(ravdess, name).write_text('{"corpus": "synthetic"}')


def main_job_on_a_missing_folder(missing: Path) -> Snippet:
    """The README's training command with its ``--data_dir`` a folder that is not there."""
    (main_job,) = [
        s
        for s in SNIPPETS
        if s.code.startswith("accelerate launch") and "--multi_gpu" not in s.code and "--data_dir" in s.code
    ]
    command = re.sub(r"--data_dir \S+", f"--data_dir {missing}", main_job.code)
    assert str(missing) in command, main_job.code
    return Snippet(main_job.section, "bash", command)


@pytest.fixture(scope="module")
def workspace(request, tmp_path_factory, tiny_wav2vec2_dir) -> Workspace:
    """A copy of the checkout with the README's inputs in place, the Install section's commands run there, and the
    other commands this session selected running, :data:`PARALLEL` at a time."""
    tmp = tmp_path_factory.mktemp("readme")
    checkout = copy_checkout(tmp / "checkout")
    python = fresh_venv(tmp / "venv")  # hf_emotion is not importable there until installed (checked)
    command_scripts(python.parent)
    place_inputs(checkout, tmp / "home", tiny_wav2vec2_dir)
    (tmp / "snippets").mkdir()
    env = clean_env(
        PATH=f"{python.parent}{os.pathsep}{os.environ['PATH']}",
        HF_EMOTION_HOME=str(tmp / "home"),
        HF_HOME=str(tmp / "hf-home"),  # no accelerate config of this machine's user
        OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"),
        MPLBACKEND="Agg",
        GRADIO_ANALYTICS_ENABLED="False",
    )
    space = Workspace(checkout, python, env, tmp / "snippets")
    for snippet in (s for s in SNIPPETS if s.section == INSTALL_SECTION and s.key not in SKIPPED):
        space.install[snippet.key] = run_snippet(snippet, space)
    if any(done.returncode for done in space.install.values()):
        yield space  # nothing else can run: each test says so
        return
    selected = set()  # what this session's tests will ask for (all, unless -k or a test id chose)
    for item in request.session.items:
        if getattr(item, "module", None) is request.module:
            params = item.callspec.params if hasattr(item, "callspec") else {}
            selected.add(params["snippet"].key if "snippet" in params else item.originalname)
    pool = ThreadPoolExecutor(max_workers=PARALLEL)
    for snippet in SNIPPETS:
        if snippet.key in selected and snippet.key not in SKIPPED and snippet.section != INSTALL_SECTION:
            space.running[snippet.key] = pool.submit(outcome, snippet, space)
    if test_the_main_job_stops_on_a_bad_data_dir_in_one_line.__name__ in selected:
        failing = main_job_on_a_missing_folder(tmp / "missing")
        space.running[MAIN_JOB_FAILURE] = pool.submit(run_snippet, failing, space)
    yield space
    pool.shutdown(cancel_futures=True)


def assert_ran(snippet: Snippet, done: subprocess.CompletedProcess) -> None:
    said = f"{snippet.key!r} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert done.returncode == 0, said
    assert "Traceback" not in done.stderr, said


def outcome(snippet: Snippet, space: Workspace) -> subprocess.CompletedProcess | None:
    """Run ``snippet``: its process, or None for a serving command that answered (it raises if it did not)."""
    return serve(snippet, space) if snippet.code.startswith(SERVING) else run_snippet(snippet, space)


def serve(snippet: Snippet, space: Workspace) -> None:
    """Start a serving command, wait until the address it prints answers, stop it."""
    process = subprocess.Popen(
        ["bash", "-c", "; ".join([*snippet.variables, f"exec {substituted(snippet.code)}"])],
        cwd=space.checkout, env=space.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    output = []
    try:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line and process.poll() is not None:
                raise AssertionError(
                    f"{snippet.key!r} exited {process.returncode}:\n{''.join(output)[-3000:]}"
                )
            output.append(line)
            found = re.search(r"http://127\.0\.0\.1:\d+", line)
            if found:
                with urllib.request.urlopen(found.group(0), timeout=30) as answer:
                    assert answer.status == 200
                return
        raise AssertionError(
            f"{snippet.key!r} printed no local URL in {TIMEOUT} s:\n{''.join(output)[-3000:]}"
        )
    finally:
        process.terminate()
        process.wait(timeout=30)


def installed(space: Workspace) -> None:
    failed = [key for key, done in space.install.items() if done.returncode]
    if failed:
        pytest.fail(f"the Install section's {failed[0]!r} failed: its own test says why")


@pytest.mark.slow
@pytest.mark.parametrize("snippet", SNIPPETS, ids=[s.key for s in SNIPPETS])
def test_readme_command_runs_as_written(snippet, workspace):
    if snippet.key in SKIPPED:
        pytest.skip(SKIPPED[snippet.key])
    if snippet.section == INSTALL_SECTION:
        assert_ran(snippet, workspace.install[snippet.key])
        return
    installed(workspace)
    done = workspace.running[snippet.key].result(timeout=2 * TIMEOUT)
    if done is not None:  # a serving command raised already if it failed
        assert_ran(snippet, done)


@pytest.mark.slow
def test_the_install_block_installs_the_package_not_the_checkout(workspace):
    installed(workspace)
    version = workspace.install["hf-emotion --version"].stdout.strip()
    assert version == f"hf-emotion {hf_emotion.__version__}"
    where = subprocess.run(
        [str(workspace.python), "-c", "import hf_emotion; print(hf_emotion.__file__)"],
        cwd=workspace.snippets, env=workspace.env, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert "site-packages" in where and not Path(where).is_relative_to(workspace.checkout), where


@pytest.mark.slow
def test_the_main_job_stops_on_a_bad_data_dir_in_one_line(workspace):
    """The README's training command on a --data_dir that is not there: accelerate must not add a traceback of its
    own to the script's one error line."""
    installed(workspace)
    done = workspace.running[MAIN_JOB_FAILURE].result(timeout=2 * TIMEOUT)
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert done.returncode != 0 and len(errors) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "--data_dir" in errors[0] and "missing" in errors[0], errors[0]


def test_the_readme_has_every_command_the_lists_name():
    """A listed command that left the README (or was edited) must leave the list: it would hide nothing."""
    keys = {snippet.key for snippet in SNIPPETS}
    assert set(SKIPPED) - keys == set()
    readme = README.read_text()
    assert all(old in readme for old, _, _ in SUBSTITUTIONS)
    assert any(s.language == "python" for s in SNIPPETS) and len(SNIPPETS) > 10  # the parsing found them


def test_commands_are_read_as_the_shell_reads_them():
    block = "M=out/model\nhf-emotion predict a.wav --model $M   # one file\nhf-emotion evaluate \\\n    --x 'a # b'\n"
    assert bash_commands("Use", block) == [
        Snippet("Use", "bash", "hf-emotion predict a.wav --model $M", ("M=out/model",)),
        Snippet("Use", "bash", "hf-emotion evaluate --x 'a # b'", ("M=out/model",)),
    ]
