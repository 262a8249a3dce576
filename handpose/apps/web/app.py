"""The Flask app: an upload page (works without JavaScript), a live camera mode and a JSON API.

Every refusal is answered with a status and a readable message (JSON under /api/, the page otherwise); a
request that cannot be served is never a 500. Uploads stay in memory: the request class keeps multipart files
in BytesIO (Werkzeug would spool those over 500 kB to a temporary file) and the size limit bounds them.
"""
from __future__ import annotations

import io
import logging
import threading
import time
from pathlib import Path

from flask import Flask, Request, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from .decode import UploadError, decode_image, megabytes
from .render import drawn_data_url, json_data_url, skeleton_json, table_rows

log = logging.getLogger("handpose.apps.web")

# Raw bodies are accepted with these declared types (or none); any other declared type is answered 415.
RAW_TYPES = {"", "image/jpeg", "image/jpg", "image/pjpeg", "image/png", "application/octet-stream"}
MULTIPART_SLACK = 16_384  # room for the multipart boundaries and part headers around a max_bytes image


class InMemoryRequest(Request):
    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        return io.BytesIO()  # never a temporary file: nothing the user sends touches the disk


class ModelRunner:
    """One shared estimator behind a lock: a request that finds the model busy waits its turn (the server's
    thread pool bounds how many wait), and the model's memory exists once."""

    def __init__(self, pipeline):
        self.pipeline = pipeline
        self.lock = threading.Lock()
        self.waiting = 0  # requests queued for the model (reported by /api/health)
        self._count = threading.Lock()

    def __call__(self, rgb) -> tuple[list, float, float]:
        t0 = time.perf_counter()
        with self._count:
            self.waiting += 1
        with self.lock:
            with self._count:
                self.waiting -= 1
            t1 = time.perf_counter()
            hands = self.pipeline(rgb, channels="rgb")
        return hands, (t1 - t0) * 1000, (time.perf_counter() - t1) * 1000


def model_name(info: dict, weights=None) -> str:
    if info.get("name"):
        return str(info["name"])
    stem = Path(weights).stem if weights else "default"
    return f"{stem} ({info.get('arch', '?')}, {info.get('input_size', '?')}px)"


def create_app(estimator=None, max_bytes: int = 1_000_000, max_pixels: int = 16_000_000, weights=None,
               name: str | None = None, max_hands: int = 2, detector="auto") -> Flask:
    """``estimator``: a ready HandPipeline or PoseEstimator, or None for ``HandPipeline.create(weights)`` (the
    defaults of predict and the API). A PoseEstimator is wrapped in a HandPipeline with ``detector`` ("auto": the
    hand detector's default weights when present, else the pose model finds the hands) and ``max_hands``."""
    from ...pipeline import HandPipeline

    if estimator is None:
        estimator = HandPipeline.create(weights, max_hands=max_hands)
    pipeline = estimator if isinstance(estimator, HandPipeline) else HandPipeline(estimator, detector, max_hands)
    estimator = pipeline.estimator
    app = Flask(__name__)
    app.json.sort_keys = False  # the predict JSON reads model, images, time in that order
    app.request_class = InMemoryRequest
    app.config.update(MAX_CONTENT_LENGTH=max_bytes + MULTIPART_SLACK)
    runner = ModelRunner(pipeline)
    info = dict(getattr(estimator, "info", {}))
    model = name or model_name(info, weights)
    limits = {"max_bytes": max_bytes, "max_pixels": max_pixels}
    app.jinja_env.globals["megabytes"] = megabytes
    app.extensions["handpose"] = {"runner": runner, "model": model, "limits": limits}

    def read_upload() -> tuple[bytes, str]:
        """The image bytes and a name for them, from a multipart field ``image`` or the raw body."""
        size = request.content_length
        mimetype = request.mimetype
        if mimetype == "multipart/form-data":
            if size is not None and size > max_bytes + MULTIPART_SLACK:
                raise UploadError(413, f"the upload is {megabytes(size)}; the limit is {megabytes(max_bytes)}")
            try:
                part = request.files.get("image")
            except RequestEntityTooLarge:
                raise UploadError(413, f"the upload is over the limit of {megabytes(max_bytes)}") from None
            except (ValueError, HTTPException) as e:
                raise UploadError(400, f"malformed multipart body ({e})") from None
            if part is None:
                raise UploadError(400, "missing the form field 'image' (a JPEG or PNG file)")
            data = part.read()
            if not data and not part.filename:
                raise UploadError(400, "no file chosen: the field 'image' is empty")
            return data, Path(part.filename or "image").name or "image"
        if mimetype not in RAW_TYPES:
            raise UploadError(415, f"unsupported Content-Type {mimetype!r}: send multipart/form-data with a field "
                                   "'image', or the JPEG/PNG bytes as the body (image/jpeg, image/png)")
        if size is not None and size > max_bytes:
            raise UploadError(413, f"the body is {megabytes(size)}; the limit is {megabytes(max_bytes)}")
        try:
            data = request.get_data(cache=False)
        except RequestEntityTooLarge:  # a chunked body without a Content-Length that ran over the limit
            raise UploadError(413, f"the body is over the limit of {megabytes(max_bytes)}") from None
        return data, Path(request.args.get("name", "image")).name or "image"

    def predict() -> tuple[dict, object, list]:
        t0 = time.perf_counter()
        data, image_name = read_upload()
        rgb = decode_image(data, image_name, max_bytes, max_pixels)
        del data
        t1 = time.perf_counter()
        hands, wait_ms, model_ms = runner(rgb)
        h, w = rgb.shape[:2]
        result = {
            "model": model,
            "images": [{"image": image_name, "width": w, "height": h, "hands": [hd.to_json() for hd in hands]}],
            "time_ms": round((time.perf_counter() - t0) * 1000, 1),
            "timings_ms": {"decode": round((t1 - t0) * 1000, 1), "wait": round(wait_ms, 1),
                           "model": round(model_ms, 1)},
        }
        return result, rgb, hands

    def page(status: int = 200, **context):
        fragment = request.headers.get("X-Fragment") == "1"  # the page's script swaps in just the result
        template = "result.html" if fragment else "index.html"
        return render_template(template, model=model, limits=limits, **context), status

    @app.get("/")
    def index():
        return page()

    @app.post("/")
    def index_post():
        try:
            result, rgb, hands = predict()
        except UploadError as e:
            return page(e.status, error=e.message)
        hand_json = result["images"][0]["hands"]
        return page(result=result, image_url=drawn_data_url(rgb, hands), json_url=json_data_url(result),
                    json_name=Path(result["images"][0]["image"]).stem + ".json",
                    tables=[table_rows(h) for h in hand_json])

    @app.post("/api/predict")
    def api_predict():
        try:
            result, _, _ = predict()
        except UploadError as e:
            return jsonify(error=e.message, status=e.status), e.status
        return jsonify(result)

    @app.get("/api/health")
    def api_health():
        return jsonify(status="ok", model=model, busy=runner.lock.locked(), waiting=runner.waiting)

    @app.get("/api/model")
    def api_model():
        return jsonify(model=model, arch=info.get("arch"), input_size=info.get("input_size"),
                       num_joints=info.get("num_joints"), metrics=info.get("metrics", {}), **limits,
                       max_hands=pipeline.max_hands, handedness=estimator.has_handedness,
                       hand_finder=pipeline.finder_name, skeleton=skeleton_json())

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        if isinstance(e, RequestEntityTooLarge):
            e.description = f"the upload is over the limit of {megabytes(max_bytes)}"
        if request.path.startswith("/api/"):
            return jsonify(error=e.description, status=e.code), e.code
        return page(e.code or 500, error=f"{e.name}: {e.description}")

    @app.errorhandler(Exception)
    def internal_error(e: Exception):  # a bug of ours: logged with its traceback, answered without one
        log.exception("unhandled error on %s %s", request.method, request.path)
        if request.path.startswith("/api/"):
            return jsonify(error="internal error", status=500), 500
        return page(500, error="internal error")

    @app.after_request
    def headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
            "media-src 'self' blob: mediastream:; object-src 'none'")
        return response

    return app
