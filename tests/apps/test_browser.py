"""The page in a real browser (Playwright driving Debian's Chromium against waitress on 127.0.0.1): upload by
file picker, by drag and drop and by a plain form POST without JavaScript; readable errors; the live camera
mode on Chromium's fake camera."""
from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from handpose.pose.inference import PoseEstimator
from handpose.apps.web.app import create_app
from handpose.apps.web.serve import serving

from .test_web import JPG, make_release

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
         "--disable-component-update", "--disable-sync",
         # the live camera mode: Chromium's synthetic camera, permission granted without a prompt
         "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium (apt-get install chromium; .ci/run does)")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    app = create_app(PoseEstimator(make_release(tmp_path_factory.mktemp("browser") / "m.safetensors")))
    with serving(app) as url:
        yield url


def hand_video(path: Path, frames: int = 30) -> Path:
    """A Y4M clip (Chromium's fake-camera file format) of a mini-example hand on a 640x480 grey frame."""
    import cv2
    import numpy as np

    frame = np.full((480, 640, 3), 120, np.uint8)
    hand = cv2.imread(str(JPG))
    frame[112:112 + hand.shape[0], 192:192 + hand.shape[1]] = hand
    i420 = cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes()
    with open(path, "wb") as f:
        f.write(b"YUV4MPEG2 W640 H480 F30:1 Ip A1:1 C420jpeg\n")
        for _ in range(frames):
            f.write(b"FRAME\n" + i420)
    return path


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    # the fake camera shows a real hand, so the live mode has a hand to find (its test pattern has none)
    video = hand_video(tmp_path_factory.mktemp("camera") / "hand.y4m")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS + [f"--use-file-for-fake-video-capture={video}"],
                                    headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    yield context.new_page()
    context.close()


def assert_result_shown(page) -> None:
    page.wait_for_selector("#result-image")
    # the drawn photo really decoded in the browser (the 256 px crop is drawn at 512 px)
    assert page.eval_on_selector("#result-image", "img => img.complete && img.naturalWidth") == 512
    assert page.locator("#keypoints tbody tr").count() == 21
    assert page.locator("#keypoints tbody tr").first.inner_text().split("\t")[1] == "wrist"
    assert re.fullmatch(r"\d\.\d\d", page.inner_text("#hand-score"))
    assert page.get_attribute("#json-link", "download") == "00000000.json"


def test_upload_with_the_file_picker(page, server):
    page.goto(server)
    page.set_input_files("#image", str(JPG))  # the script uploads on change, without leaving the page
    assert_result_shown(page)
    assert page.url == server + "/"


def test_upload_by_drag_and_drop(page, server):
    page.goto(server)
    page.evaluate("""b64 => {
        const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], "00000000.jpg", {type: "image/jpeg"}));
        document.getElementById("drop").dispatchEvent(
            new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true}));
    }""", base64.b64encode(JPG.read_bytes()).decode())
    assert_result_shown(page)


def test_upload_without_javascript(browser, server):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(server)
    page.set_input_files("#image", str(JPG))
    with page.expect_navigation():
        page.click("#submit")  # a plain multipart form POST; the answer is the result page
    assert_result_shown(page)
    context.close()


def test_a_text_file_shows_a_readable_error(page, server, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a photo of a hand\n")
    page.goto(server)
    page.set_input_files("#image", str(notes))
    page.wait_for_selector("#error")
    assert "notes.txt: not an image (expected a JPEG or PNG photo)" in page.inner_text("#error")
    assert page.locator("#result-image").count() == 0


def test_an_oversized_file_is_refused_with_the_limit(page, server, tmp_path):
    big = tmp_path / "big.jpg"
    big.write_bytes(JPG.read_bytes() + bytes(1_100_000))
    page.goto(server)
    page.set_input_files("#image", str(big))
    page.wait_for_selector("#error")
    assert "the limit is 1.0 MB" in page.inner_text("#error")


def test_live_camera_draws_the_hand_over_the_video(page, server):
    page.goto(server)
    page.click("#camera-toggle")
    # frames go to /api/predict one at a time; three answered frames show the loop keeps going
    page.wait_for_function("() => /^frames: ([3-9]|\\d\\d)/.test(document.getElementById('camera-status').textContent)",
                           timeout=30_000)
    assert "hand score" in page.inner_text("#camera-status")
    size = page.eval_on_selector("#overlay", "c => [c.width, c.height]")
    assert size == page.eval_on_selector("#video", "v => [v.videoWidth, v.videoHeight]") and size[0] > 0
    # something was drawn on the overlay: some pixels are not transparent
    painted = page.eval_on_selector("#overlay", """c => {
        const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) n += d[i] > 0; return n; }""")
    assert painted > 100
    page.click("#camera-toggle")
    assert page.is_hidden("#stage")
