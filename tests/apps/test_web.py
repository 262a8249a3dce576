"""The web app: the JSON API and its refusals (Flask's test client), the no-JavaScript form, and the real
server (waitress on 127.0.0.1) for the paths the test client cannot show: 413 on the wire, concurrency."""
from __future__ import annotations

import base64
import http.client
import io
import json
import re
import tempfile
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from handpose.pose.inference import PoseEstimator
from handpose.pipeline import HandPipeline
from handpose.apps.web.app import create_app
from handpose.apps.web.serve import serving

from ..conftest import MINI, untrained_release

JPG = MINI / "training" / "rgb" / "00000000.jpg"


def make_release(path: Path) -> Path:
    """A resnet18 release with random weights whose head is scaled up, so that its (meaningless) heatmaps peak
    above the presence threshold and every photo yields a hand: the web plumbing needs a hand, not accuracy."""
    return untrained_release(path, 128, loud_head=True, metrics={"PCK@0.2": 0.0})


@pytest.fixture(scope="module")
def estimator(tmp_path_factory) -> PoseEstimator:
    return PoseEstimator(make_release(tmp_path_factory.mktemp("web") / "m.safetensors"))


@pytest.fixture(scope="module")
def app(estimator):
    return create_app(estimator, name="test-model")


@pytest.fixture
def client(app):
    return app.test_client()


def pil_rgb(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def encode(rgb: np.ndarray, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, fmt, **kw)
    return buf.getvalue()


def post_file(client, data: bytes, name: str = "hand.jpg", field: str = "image", url: str = "/api/predict"):
    return client.post(url, data={field: (io.BytesIO(data), name)}, content_type="multipart/form-data")


def expected(estimator, rgb: np.ndarray) -> list[dict]:
    """What the app should answer: the pipeline it wraps around the estimator, with the same detector it loads
    (the bundled hand detector when its weights are there, else the pose model as finder), up to 2 hands."""
    return [h.to_json() for h in HandPipeline(estimator, detector="auto", max_hands=2)(rgb)]


# -- the API --------------------------------------------------------------------------------------------
def test_predict_multipart_matches_the_estimator(client, estimator):
    data = JPG.read_bytes()
    r = post_file(client, data, "00000000.jpg")
    assert r.status_code == 200 and r.is_json
    body = r.get_json()
    assert body["model"] == "test-model"
    assert body["time_ms"] > 0 and set(body["timings_ms"]) == {"decode", "wait", "model"}
    (image,) = body["images"]
    assert (image["image"], image["width"], image["height"]) == ("00000000.jpg", 256, 256)
    assert image["hands"] == expected(estimator, pil_rgb(data))
    hand = image["hands"][0]
    assert len(hand["keypoints"]) == 21 and all(len(k) == 3 for k in hand["keypoints"])


@pytest.mark.parametrize("ctype", ["image/jpeg", "application/octet-stream", None])
def test_predict_raw_body(client, estimator, ctype):
    data = JPG.read_bytes()
    headers = {"Content-Type": ctype} if ctype else {}
    r = client.post("/api/predict?name=cam.jpg", data=data, headers=headers)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["images"][0]["image"] == "cam.jpg"
    assert r.get_json()["images"][0]["hands"] == expected(estimator, pil_rgb(data))


def test_png_and_mislabelled_png(client, estimator):
    rgb = pil_rgb(JPG.read_bytes())[:200, :240]  # not square: width and height must not be swapped
    png = encode(rgb, "PNG")
    for r in (post_file(client, png, "hand.png"), client.post("/api/predict", data=png, content_type="image/jpeg")):
        assert r.status_code == 200
        image = r.get_json()["images"][0]
        assert (image["width"], image["height"]) == (240, 200)
        assert image["hands"] == expected(estimator, rgb)


def test_exif_orientation_is_honoured(client, estimator):
    stored = pil_rgb(JPG.read_bytes())[:, :192]  # 192 wide, 256 high as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation 6: the viewer turns the stored pixels 90 degrees clockwise
    data = encode(stored, "JPEG", quality=95, exif=exif.tobytes())
    upright = np.ascontiguousarray(np.rot90(pil_rgb(data), k=-1))
    r = post_file(client, data)
    image = r.get_json()["images"][0]
    assert (image["width"], image["height"]) == (256, 192)
    assert image["hands"] == expected(estimator, upright)


def test_health_and_model(client):
    assert client.get("/api/health").get_json()["status"] == "ok"
    info = client.get("/api/model").get_json()
    assert (info["arch"], info["input_size"], info["metrics"]) == ("resnet18", 128, {"PCK@0.2": 0.0})
    assert info["max_bytes"] == 1_000_000 and len(info["skeleton"]["bones"]) == 20


# -- refusals: always a status and a readable JSON message, never a 500 ------------------------------------
def error(r, status: int) -> str:
    assert r.status_code == status, (r.status_code, r.data[:300])
    body = r.get_json()
    assert body["status"] == status and body["error"]
    return body["error"]


def png_with_size(width: int, height: int) -> bytes:
    """A valid PNG whose 1-bit pixels are all zero: a few kB on disk, width * height pixels decoded."""
    row = b"\x00" + bytes((width + 7) // 8)
    raw = zlib.compress(row * height, 9)

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return len(payload).to_bytes(4, "big") + kind + payload + zlib.crc32(kind + payload).to_bytes(4, "big")

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([1, 0, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def test_bad_inputs_are_400(client):
    jpg = JPG.read_bytes()
    png = encode(pil_rgb(jpg), "PNG")
    corrupt_png = bytearray(png)
    corrupt_png[40:60] = bytes(20)  # inside IDAT: the chunk's CRC no longer matches
    assert "not an image" in error(post_file(client, b"hello, this is text\n", "notes.txt"), 400)
    assert "empty" in error(post_file(client, b"", "empty.jpg"), 400)
    assert "empty" in error(client.post("/api/predict", data=b"", content_type="image/jpeg"), 400)
    assert "'image'" in error(post_file(client, jpg, field="photo"), 400)
    assert "truncated or corrupt" in error(post_file(client, jpg[: len(jpg) // 2]), 400)
    assert "truncated or corrupt" in error(post_file(client, png[: len(png) // 2], "x.png"), 400)
    assert "truncated or corrupt" in error(post_file(client, bytes(corrupt_png), "x.png"), 400)
    assert "not an image" in error(post_file(client, b"\xff\xd8" + bytes(5000)), 400)


def test_decompression_bomb_refused_from_its_header(client, monkeypatch):
    loaded = []
    monkeypatch.setattr(Image.Image, "load", lambda self: loaded.append(self.size))
    for side in (6_000, 20_000):  # 36 and 400 megapixels in a few kB
        bomb = png_with_size(side, side)
        assert len(bomb) < 100_000
        assert "too many pixels" in error(post_file(client, bomb, "bomb.png"), 400)
    assert loaded == []  # refused before any pixel was decoded


def test_unsupported_types_are_415(client):
    gif = encode(pil_rgb(JPG.read_bytes()), "GIF")
    assert "GIF" in error(post_file(client, gif, "hand.gif"), 415)
    assert "text/plain" in error(client.post("/api/predict", data=b"x", content_type="text/plain"), 415)
    assert "image/gif" in error(client.post("/api/predict", data=gif, content_type="image/gif"), 415)


def test_oversized_is_413(client):
    big = np.random.default_rng(0).integers(0, 255, 1_200_000, dtype=np.uint8).tobytes()
    assert "limit" in error(post_file(client, big), 413)
    assert "limit" in error(client.post("/api/predict", data=big, content_type="image/jpeg"), 413)


def test_limits_are_configurable(estimator):
    client = create_app(estimator, max_bytes=5_000, max_pixels=10_000).test_client()
    assert "limit" in error(post_file(client, JPG.read_bytes()), 413)  # the 9 kB photo is over 5 kB
    small = encode(pil_rgb(JPG.read_bytes())[:120, :120], "JPEG", quality=30)
    assert "too many pixels" in error(post_file(client, small), 400)  # 14400 pixels > 10000


def test_unknown_routes_answer_json(client):
    assert error(client.get("/api/nothing"), 404)
    assert error(client.get("/api/predict"), 405)


def test_uploads_never_touch_the_disk(client, monkeypatch):
    """Werkzeug spools multipart files over 500 kB to a temporary file; ours stay in memory."""
    rng = np.random.default_rng(1)
    png = encode(rng.integers(0, 255, (400, 600, 3), dtype=np.uint8), "PNG")  # noise: ~720 kB
    assert 500_000 < len(png) < 1_000_000

    def refuse(*a, **k):
        raise AssertionError("a temporary file was opened")

    for name in ("TemporaryFile", "NamedTemporaryFile", "SpooledTemporaryFile", "mkstemp"):
        monkeypatch.setattr(tempfile, name, refuse)
    r = post_file(client, png, "noise.png")
    assert r.status_code == 200 and r.get_json()["images"][0]["width"] == 600


# -- the page without JavaScript -------------------------------------------------------------------------
def test_form_post_returns_the_result_page(client, estimator):
    data = JPG.read_bytes()
    assert b'enctype="multipart/form-data"' in client.get("/").data
    r = post_file(client, data, "00000000.jpg", url="/")
    assert r.status_code == 200 and r.mimetype == "text/html"
    page = r.get_data(as_text=True)
    hands = expected(estimator, pil_rgb(data))
    assert hands and page.count("<tr><td>") == 21 * len(hands)  # a coordinate table per hand: one row per joint
    drawn = re.search(r'id="result-image" src="data:image/jpeg;base64,([^"]+)"', page).group(1)
    assert Image.open(io.BytesIO(base64.b64decode(drawn))).size == (512, 512)  # the 256 px crop, enlarged
    link = re.search(r'id="json-link" href="data:application/json;base64,([^"]+)" download="00000000.json"', page)
    result = json.loads(base64.b64decode(link.group(1)))
    assert result["images"][0]["hands"] == expected(estimator, pil_rgb(data))
    assert f'{result["images"][0]["hands"][0]["score"]:.2f}' in page
    # each hand's gesture (the bundled canned classifier) is listed by name on the page
    gesture = result["images"][0]["hands"][0]["gesture"]
    assert gesture is not None and f'id="gesture">{gesture}</strong>' in page


def test_form_post_error_is_a_readable_page(client):
    r = post_file(client, b"just some text", "notes.txt", url="/")
    assert r.status_code == 400 and r.mimetype == "text/html"
    assert "notes.txt: not an image" in r.get_data(as_text=True)
    r = client.post("/", data={}, content_type="multipart/form-data")
    assert r.status_code == 400 and "field" in r.get_data(as_text=True)


# -- the real server ---------------------------------------------------------------------------------------
def fetch(url: str, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.getheader("Content-Type"), r.read()
    finally:
        conn.close()


def test_real_server_413_is_answered(app, monkeypatch):
    big = bytes(1_500_000)
    with serving(app) as url:
        status, ctype, body = fetch(url, "POST", "/api/predict", big, {"Content-Type": "image/jpeg"})
        assert (status, ctype) == (413, "application/json")
        assert json.loads(body)["error"] == "the body is 1.5 MB; the limit is 1.0 MB"
        # the same connection handling for a multipart upload, and the server is still fine afterwards
        boundary = "b0undary"
        multipart = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"big.jpg\"\r\n"
                     f"Content-Type: image/jpeg\r\n\r\n").encode() + big + f"\r\n--{boundary}--\r\n".encode()
        status, _, body = fetch(url, "POST", "/api/predict", multipart,
                               {"Content-Type": f"multipart/form-data; boundary={boundary}"})
        assert status == 413 and "limit" in json.loads(body)["error"]
        assert fetch(url, "GET", "/api/health")[0] == 200


def test_real_server_concurrent_requests_share_the_model(app, estimator):
    data = JPG.read_bytes()
    want = expected(estimator, pil_rgb(data))
    results: list = []
    with serving(app, workers=4) as url:
        def client():
            results.append(fetch(url, "POST", "/api/predict", data, {"Content-Type": "image/jpeg"}))

        threads = [threading.Thread(target=client) for _ in range(8)]  # more clients than server threads
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert [s for s, _, _ in results] == [200] * 8
    assert all(json.loads(b)["images"][0]["hands"] == want for _, _, b in results)


def test_a_request_waits_while_the_model_is_busy(app):
    runner = app.extensions["handpose"]["runner"]
    out: list = []
    with serving(app) as url:
        runner.lock.acquire()  # the model is busy with someone else's request
        try:
            t = threading.Thread(target=lambda: out.append(
                fetch(url, "POST", "/api/predict", JPG.read_bytes(), {"Content-Type": "image/jpeg"})))
            t.start()
            for _ in range(600):  # until the request has reached the model and queues for it
                health = json.loads(fetch(url, "GET", "/api/health")[2])
                if health["waiting"] == 1:
                    break
                time.sleep(0.05)
            assert health == {"status": "ok", "model": "test-model", "busy": True, "waiting": 1}
            t.join(timeout=0.5)
            assert t.is_alive() and out == []  # still waiting, not dropped
        finally:
            runner.lock.release()
        t.join(timeout=60)
        assert json.loads(fetch(url, "GET", "/api/health")[2])["waiting"] == 0
    assert out[0][0] == 200 and json.loads(out[0][2])["timings_ms"]["wait"] >= 500
