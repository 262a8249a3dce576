"""One table of defaults (handpose/defaults.py): the Python API, `handpose predict` and `handpose serve` give the
same hands for the same photo; live's own defaults are the VIDEO row."""
import argparse
import io
import json

import numpy as np

from handpose import HandPipeline
from handpose.apps.cli import main as cli
from handpose.apps.options import add_pipeline_arguments, create_pipeline
from handpose.apps.web import serve
from handpose.apps.web.app import create_app
from handpose.defaults import PHOTO, VIDEO

from .conftest import MINI


def keypoints(hands: list[dict]) -> list[np.ndarray]:
    return [np.array(h["keypoints"])[:, :2] for h in hands]


def test_the_api_predict_and_serve_give_the_same_keypoints(tmp_path):
    photos = sorted((MINI / "evaluation" / "rgb").glob("*.jpg"))[:2]  # the bundled sample photos
    out = tmp_path / "p.json"
    assert cli(["predict", *map(str, photos), "--json", str(out)]) == 0
    by_predict = {e["image"]: e["hands"] for e in json.loads(out.read_text())["images"]}
    api = HandPipeline.create()
    parser = argparse.ArgumentParser()
    serve.add_arguments(parser)
    client = create_app(create_pipeline(parser.parse_args([]))).test_client()
    for photo in photos:
        via_api = [h.to_json() for h in api(str(photo))]
        r = client.post("/api/predict", data={"image": (io.BytesIO(photo.read_bytes()), photo.name)},
                        content_type="multipart/form-data")
        via_serve = r.get_json()["images"][0]["hands"]
        via_predict = by_predict[str(photo)]
        assert len(via_api) == len(via_predict) == len(via_serve) >= 1
        for a, p, s in zip(keypoints(via_api), keypoints(via_predict), keypoints(via_serve)):
            assert np.abs(a - p).max() < 0.5 and np.abs(s - p).max() < 0.5
        assert [h["gesture"] for h in via_api] == [h["gesture"] for h in via_predict] == [h["gesture"] for h in via_serve]


def test_each_front_end_reads_its_row_of_the_table():
    from handpose.apps import live, predict

    for module, row in ((predict, PHOTO), (serve, PHOTO), (live, VIDEO)):
        parser = argparse.ArgumentParser()
        module.add_arguments(parser)
        args = parser.parse_args(["x"] if module is predict else [])
        assert (args.backend, args.flip_test, args.max_hands, args.recrops) == \
            (row.backend, row.flip_test, row.max_hands, row.recrops)
    parser = argparse.ArgumentParser()
    add_pipeline_arguments(parser)
    assert parser.parse_args(["--no-flip-test"]).flip_test is False
    from handpose.apps import label

    parser = argparse.ArgumentParser()
    label.add_arguments(parser)
    assert parser.parse_args(["photos", "--out", "x"]).backend == PHOTO.backend  # the model teacher runs predict's path


def test_recrops_sets_the_pose_passes_after_a_detection():
    photo = sorted((MINI / "evaluation" / "rgb").glob("*.jpg"))[0]
    parser = argparse.ArgumentParser()
    add_pipeline_arguments(parser)
    passes = {}
    for n in (0, 2):
        pipeline = create_pipeline(parser.parse_args(["--recrops", str(n)]))
        calls = []
        estimate_many = pipeline.estimator.estimate_many
        pipeline.estimator.estimate_many = lambda jobs, *a, **k: calls.append(len(jobs)) or estimate_many(jobs, *a, **k)
        hands = pipeline(str(photo))
        assert len(hands) >= 1
        passes[n] = len(calls)
    assert passes[2] == passes[0] + 2
