"""The demo as a first-time visitor meets it, in a real headless Chromium: the model panel and the test
speakers' examples in the first view, then "Listen live" fed by Chromium's fake microphone (a WAV file played
in a loop), whose label and latency must update while it streams."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("gradio")
pytest.importorskip("selenium")

from hf_emotion.app import demo as demo_app  # noqa: E402
from hf_emotion.data.labels import EMOTIONS  # noqa: E402
from tests.app.carded_model import TEST, make_carded_model  # noqa: E402
from tests.app.test_browser import ARTIFACTS, chromium, pytestmark  # noqa: E402, F401 (the skip marks)
from tests.app.test_demo import free_port  # noqa: E402
from tests.synth import emotion_signal, write_audio  # noqa: E402

#: Generous on 2 shared cores: headless Chromium, the server and the model share them.
WAIT_SECONDS = 90


@pytest.fixture()
def server(tiny_whisper_dir, ravdess_dir, tmp_path_factory):
    model = make_carded_model(tiny_whisper_dir, ravdess_dir, tmp_path_factory.mktemp("live") / "model")
    demo = demo_app.build_demo_for(model)
    port = free_port()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


def test_first_view_explains_the_model_and_live_listening_updates(server, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    voice = np.concatenate(
        [emotion_signal(e, 2.0, 48_000, seed=i) for i, e in enumerate(("happy", "sad", "angry"))]
    )
    microphone = write_audio(tmp_path / "microphone.wav", voice, 48_000, subtype="PCM_16")
    fake_microphone = (
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",  # no permission prompt
        f"--use-file-for-fake-audio-capture={microphone}",
    )
    with chromium(*fake_microphone) as browser:
        browser.get(server)
        wait = WebDriverWait(browser, WAIT_SECONDS)
        panel = wait.until(ec.visibility_of_element_located((By.ID, "model-panel")))
        assert "RAVDESS" in panel.text and "0.61" in panel.text and "non-commercial" in panel.text
        examples = browser.find_element(By.ID, "examples").text
        assert all(speaker in examples for speaker in TEST) and "Synthetic" not in examples
        assert "test speakers" in browser.find_element(By.ID, "examples-credit").text
        assert not browser.find_elements(By.ID, "calibration")  # no head: no section
        ARTIFACTS.mkdir(exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "demo-first-view.png"))

        record = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "#live-in .record-button")))
        browser.execute_script("arguments[0].scrollIntoView()", record)
        record.click()
        status = lambda: browser.find_element(By.ID, "live-status").text  # noqa: E731
        wait.until(lambda _: " ms" in status())
        first = status()
        wait.until(lambda _: " ms" in status() and status() != first)  # a later update arrived
        assert "heard" in status()
        label = browser.find_element(By.ID, "live-emotion").text
        assert any(emotion in label for emotion in EMOTIONS), label
        browser.save_screenshot(str(ARTIFACTS / "demo-live.png"))
