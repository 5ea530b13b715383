"""End to end in a real headless Chromium: upload a clip to the demo, wait for the answer, screenshot it."""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest

pytest.importorskip("gradio")
selenium = pytest.importorskip("selenium")

from hf_emotion.data.labels import EMOTIONS  # noqa: E402
from hf_emotion.serving.recognizer import EmotionRecognizer  # noqa: E402
from tests.app.test_demo import launch  # noqa: E402
from tests.serving.test_inference import make_emotion_model_dir  # noqa: E402
from tests.synth import emotion_signal, write_audio  # noqa: E402

CHROMIUM = os.environ.get("HF_EMOTION_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("HF_EMOTION_CHROMEDRIVER", "/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)),
        reason=f"needs Chromium and chromedriver at {CHROMIUM} and {CHROMEDRIVER} "
        "(apt-get install -y chromium chromium-driver)",
    ),
]


@contextmanager
def chromium(*extra_flags: str):
    """A headless Chromium driven by chromedriver, with its own profile folder, closed afterwards."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="hf-emotion-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--disable-dev-shm-usage",
        "--window-size=1280,2000",
        f"--user-data-dir={profile}",
        *extra_flags,
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture()
def browser():
    with chromium() as driver:
        yield driver


@pytest.fixture()
def server(tiny_whisper_dir, tmp_path_factory):
    from hf_emotion.app import demo as demo_app

    model_dir = make_emotion_model_dir(tiny_whisper_dir, tmp_path_factory.mktemp("browser-model"))
    demo, url = launch(demo_app, EmotionRecognizer.from_pretrained(model_dir), tmp_path_factory)
    yield url
    demo.close()


def test_upload_in_chromium_shows_emotion_and_timeline(browser, server, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    # 7 s: long enough for a timeline (a clip under two 3-s windows is one window, no timeline).
    clip = write_audio(tmp_path / "happy-7s.wav", emotion_signal("happy", 7.0), 16_000)
    browser.get(server)
    wait = WebDriverWait(browser, 60)
    upload = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#audio-in input[type=file]")))
    upload.send_keys(str(clip))
    # The player appears once the upload is done; then ask for the prediction.
    wait.until(
        ec.presence_of_element_located((By.CSS_SELECTOR, "#audio-in audio, #audio-in .waveform-container"))
    )
    wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "#recognize"))).click()
    wait.until(lambda driver: '"label"' in driver.find_element(By.ID, "numbers").text)
    label_text = browser.find_element(By.ID, "emotion").text
    assert any(emotion in label_text for emotion in EMOTIONS), label_text
    numbers = "".join(browser.find_element(By.ID, "numbers").text.split())
    assert '"windows":4' in numbers and '"duration_s":7' in numbers, numbers
    wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#timeline img, #circumplex img")))

    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "demo-chromium.png"
    browser.save_screenshot(str(screenshot))
    assert screenshot.stat().st_size > 10_000
