"""The demo's "Calibrate with your voice" in a real headless Chromium: upload clips of one voice, calibrate,
recognize, and see the page say it is calibrated; then forget the voice."""

from __future__ import annotations

import pytest

pytest.importorskip("gradio")
pytest.importorskip("selenium")

from hf_emotion.app import demo as demo_app  # noqa: E402
from hf_emotion.serving.recognizer import EmotionRecognizer  # noqa: E402
from tests.app.test_browser import ARTIFACTS, browser, pytestmark  # noqa: E402, F401 (the fixture and skip marks)
from tests.app.test_demo import launch  # noqa: E402
from tests.synth import emotion_signal, write_audio  # noqa: E402

MOODS = ("neutral", "happy", "sad", "angry")


@pytest.fixture()
def server(adapted_model, tmp_path_factory):
    demo, url = launch(demo_app, EmotionRecognizer.from_pretrained(adapted_model), tmp_path_factory)
    yield url
    demo.close()


def test_calibrate_in_chromium_then_recognize_says_calibrated_then_forget(browser, server, tmp_path):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    clips = [
        write_audio(tmp_path / f"me-{mood}.wav", emotion_signal(mood, 1.0, speaker_shift=0.8, seed=i))
        for i, mood in enumerate(MOODS)
    ]
    new = write_audio(tmp_path / "me-now.wav", emotion_signal("surprised", 1.2, speaker_shift=0.8))
    browser.get(server)
    wait = WebDriverWait(browser, 60)
    mode = wait.until(ec.presence_of_element_located((By.ID, "mode")))
    assert "Mode: clip by clip" in mode.text

    wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "#calibration button"))).click()  # open it
    files = wait.until(
        ec.presence_of_element_located((By.CSS_SELECTOR, "#calibration-clips input[type=file]"))
    )
    files.send_keys("\n".join(str(c) for c in clips))
    wait.until(lambda driver: "me-angry" in driver.find_element(By.ID, "calibration-clips").text)  # uploaded
    wait.until(ec.element_to_be_clickable((By.ID, "calibrate"))).click()
    wait.until(
        lambda driver: (
            "Calibrated to your voice with 4 clips" in driver.find_element(By.ID, "calibration-status").text
        )
    )
    assert "Mode: calibrated to your voice (4 clips)" in browser.find_element(By.ID, "mode").text

    browser.find_element(By.CSS_SELECTOR, "#audio-in input[type=file]").send_keys(str(new))
    wait.until(
        ec.presence_of_element_located((By.CSS_SELECTOR, "#audio-in audio, #audio-in .waveform-container"))
    )
    wait.until(ec.element_to_be_clickable((By.ID, "recognize"))).click()
    wait.until(lambda driver: '"mode"' in driver.find_element(By.ID, "numbers").text)
    numbers = "".join(browser.find_element(By.ID, "numbers").text.split())
    assert '"mode":"speaker_adaptive"' in numbers and '"calibration_clips":4' in numbers, numbers
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "demo-calibrated-chromium.png"))

    browser.find_element(By.ID, "forget-voice").click()
    wait.until(lambda driver: "Mode: clip by clip" in driver.find_element(By.ID, "mode").text)
    browser.find_element(By.ID, "recognize").click()
    wait.until(lambda driver: '"mode":"clip"' in "".join(driver.find_element(By.ID, "numbers").text.split()))
