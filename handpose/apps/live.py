"""`handpose live`: real-time hand pose from a camera, a stream or a video file, tracked and smoothed: the
loop (read -> track -> draw -> write) and the command. Frames come from sources.py, results go to outputs.py,
the drawing is overlay.py's, the window window.py's."""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..defaults import VIDEO
from ..errors import HandposeError
from ..io import atomic_write_image
from ..smoothing import OneEuroParams
from ..tracking import HandTracker
from .options import add_pipeline_arguments, create_pipeline
from .outputs import JsonlOutput, VideoOutput
from .overlay import STAGES, draw_overlay
from .sources import Frame, open_source
from .window import gui_problem, open_window

GUI_HELP = ("For a window, run on a desktop session with Python's Tk (Debian/Ubuntu: apt install python3-tk), "
            "or replace the headless OpenCV build with the full one (the two clash when both are installed): "
            "`pip uninstall -y opencv-python-headless && pip install opencv-python`. "
            "Or run headless: --no-display --output OUT.mp4 --json OUT.jsonl")


@dataclass
class Stats:
    ms: dict = field(default_factory=lambda: {s: [] for s in STAGES})
    frames: int = 0
    with_hand: int = 0
    found: int = 0  # frames where the search for new hands (detector or finder) ran
    seconds: float = 0.0
    dropped: int = 0

    def add(self, ms: dict) -> None:
        for s in STAGES:
            self.ms[s].append(ms.get(s, 0.0))

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def latency(self) -> np.ndarray:
        """Per-frame processing latency (ms): every stage after the frame was read."""
        return np.sum([self.ms[s] for s in STAGES[1:]], axis=0) if self.frames else np.zeros(0)

    def summary(self) -> str:
        pct = lambda a, q: float(np.percentile(a, q)) if len(a) else 0.0
        lat = self.latency()
        lines = [f"frames {self.frames}, with a hand {self.with_hand} ({100 * self.with_hand / max(self.frames, 1):.1f}%), "
                 f"hand finder ran on {self.found}" + (f", camera frames dropped {self.dropped}" if self.dropped else ""),
                 f"mean FPS {self.fps:.1f} ({self.frames} frames in {self.seconds:.2f} s, end to end)",
                 "| stage (ms) | mean | p50 | p90 | p99 |", "|---|---|---|---|---|"]
        for name, vals in [*self.ms.items(), ("latency (find..write)", lat)]:
            vals = np.asarray(vals)
            lines.append(f"| {name} | {vals.mean() if len(vals) else 0:.1f} | {pct(vals, 50):.1f} | {pct(vals, 90):.1f} | {pct(vals, 99):.1f} |")
        return "\n".join(lines)


# -- the loop -----------------------------------------------------------------------------------------------
def process(source, tracker: HandTracker, *, window=None, video: VideoOutput | None = None,
            jsonl: JsonlOutput | None = None, mirror: bool = False, max_frames: int | None = None,
            snapshot_dir: Path = Path("."), on_frame=None) -> Stats:
    """Read -> find/track -> smooth -> draw -> write, frame after frame, until the source ends, ``max_frames``,
    q, or Ctrl-C on a camera. ``window`` (window.py) shows the frames; ``on_frame(frame, tracks)`` sees every
    result (benchmarks use it)."""
    stats = Stats()
    ms = {s: 0.0 for s in STAGES}
    fps = 0.0
    start = last = time.perf_counter()
    try:
        while max_frames is None or stats.frames < max_frames:
            t0 = time.perf_counter()
            frame = source.read()
            if frame is None:
                break
            ms["read"] = (time.perf_counter() - t0) * 1e3
            bgr = cv2.flip(frame.bgr, 1) if mirror else frame.bgr
            tracks = tracker.update(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), frame.time)
            ms.update(tracker.info.ms)
            t1 = time.perf_counter()
            out = draw_overlay(bgr, tracks, fps, ms, tracker.info.found, mirror)
            t2 = time.perf_counter()
            if video is not None:
                video.write(out)
            if jsonl is not None:
                jsonl.write({"frame": frame.index, "time": round(frame.time, 4), "hands": [tr.to_json() for tr in tracks]})
            key = window.show(out) if window is not None else -1
            ms["draw"], ms["write"] = (t2 - t1) * 1e3, (time.perf_counter() - t2) * 1e3
            stats.add(ms)
            stats.frames += 1
            stats.with_hand += bool(tracks)
            stats.found += tracker.info.found
            if on_frame is not None:
                on_frame(frame, tracks)
            now = time.perf_counter()
            rate = 1.0 / max(now - last, 1e-6)
            fps, last = (rate if fps == 0 else 0.9 * fps + 0.1 * rate), now
            if key in (ord("q"), 27):
                break
            if key == ord("s"):
                path = snapshot_dir / time.strftime("handpose_%Y%m%d_%H%M%S.png")
                atomic_write_image(path, out)
                print(f"snapshot: {path}", file=sys.stderr)
            if key == ord("m"):
                mirror = not mirror
                tracker.reset()  # the hands just jumped to the other side
    except KeyboardInterrupt:
        if not source.live:
            raise  # a file cut short: the caller leaves no partial output behind
        print("stopped", file=sys.stderr)  # a camera has no end: Ctrl-C is how it stops
    stats.seconds = time.perf_counter() - start
    stats.dropped = getattr(source, "dropped", 0)
    return stats


# -- the command --------------------------------------------------------------------------------------------
def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--source", default="0", help="camera index (0), video file or stream URL (default: 0)")
    add_pipeline_arguments(p, VIDEO)  # speed first: int8, no flip test (defaults.py)
    p.add_argument("--redetect-every", type=int, default=5, metavar="K",
                   help="while some but fewer than --max-hands hands are tracked, look for more every K frames "
                        "(default 5; at once when no hand is tracked or one is lost)")
    p.add_argument("--mirror", action="store_true", help="mirror the image (selfie view); key m toggles it")
    p.add_argument("--no-display", action="store_true", help="no window (servers, batch runs)")
    p.add_argument("--output", type=Path, help="annotated video to write (.mp4): same frames and rate as the input")
    p.add_argument("--json", type=Path, help="JSON lines to write: one object per frame, hand or not")
    p.add_argument("--max-frames", type=int, help="stop after this many frames")
    p.add_argument("--presence-threshold", type=float, default=0.2,
                   help="hand presence score a new hand must reach (default 0.2)")
    p.add_argument("--keep-threshold", type=float, default=None, metavar="T",
                   help="presence score under which a tracked hand is lost and the finder runs again (default: "
                        "--presence-threshold)")
    p.add_argument("--roi-scale", type=float, default=1.1, help="growth of the keypoints' box for the next crop")
    p.add_argument("--no-smooth", action="store_true", help="turn the One Euro filter off")
    p.add_argument("--min-cutoff", type=float, default=OneEuroParams.min_cutoff, help="One Euro: cut-off when still (Hz)")
    p.add_argument("--beta", type=float, default=OneEuroParams.beta, help="One Euro: cut-off rise with speed (per hand size/s)")
    p.add_argument("--d-cutoff", type=float, default=OneEuroParams.d_cutoff, help="One Euro: cut-off of the speed (Hz)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads (default: one per core; 1 is much faster on a machine busy with other work)")
    p.add_argument("--snapshot-dir", type=Path, default=Path("."), help="where key s saves snapshots")


def run(args: argparse.Namespace) -> int:
    if args.max_hands < 1:
        raise HandposeError(f"--max-hands must be at least 1, got {args.max_hands}")
    if args.redetect_every < 1:
        raise HandposeError(f"--redetect-every must be at least 1, got {args.redetect_every}")
    for name in ("presence_threshold", "keep_threshold"):
        value = getattr(args, name)
        if value is not None and value < 0:
            raise HandposeError(f"--{name.replace('_', '-')} must be 0 or more, got {value}")
    for name in ("min_cutoff", "beta", "d_cutoff"):
        if getattr(args, name) < 0 or (name != "beta" and getattr(args, name) == 0):
            raise HandposeError(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    display = not args.no_display
    if display and (problem := gui_problem()):
        if args.output is None and args.json is None:
            raise HandposeError(f"cannot open a window: {problem}. {GUI_HELP}")
        print(f"handpose live: no window ({problem}); writing the outputs only", file=sys.stderr)
        display = False
    source = open_source(str(args.source))
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    video = jsonl = window = None
    ok = False
    try:
        pipeline = create_pipeline(args, presence_threshold=args.presence_threshold)
        smoothing = None if args.no_smooth else OneEuroParams(args.min_cutoff, args.beta, args.d_cutoff)
        tracker = HandTracker(pipeline, args.max_hands, smoothing, args.roi_scale, args.redetect_every,
                              keep_threshold=args.keep_threshold)
        first = source.read()
        if first is None:
            raise HandposeError(f"{source.name}: no frames")
        size = (first.bgr.shape[1], first.bgr.shape[0])
        video = VideoOutput(args.output, source.fps, size) if args.output else None
        jsonl = JsonlOutput(args.json) if args.json else None
        if source.live:
            print(f"{source.name}: {size[0]}x{size[1]}; q quits, s saves a snapshot, m mirrors", file=sys.stderr)
        window = open_window("handpose live (q quit, s snapshot, m mirror)") if display else None
        stats = process(_Prepend(first, source), tracker, window=window, video=video, jsonl=jsonl,
                        mirror=args.mirror, max_frames=args.max_frames, snapshot_dir=args.snapshot_dir)
        ok = True
    finally:
        source.close()
        for out in (video, jsonl):
            if out is not None:
                out.finish(ok)
        if window is not None:
            window.close()
    print(stats.summary())
    for out in (video, jsonl):
        if out is not None:
            print(f"wrote {out.path}")
    return 0


class _Prepend:
    """The source, with the already-read first frame handed out again first."""

    def __init__(self, first: Frame, source):
        self.first, self.source = first, source
        self.live = source.live

    def read(self) -> Frame | None:
        if self.first is not None:
            frame, self.first = self.first, None
            return frame
        return self.source.read()

    @property
    def dropped(self) -> int:
        return getattr(self.source, "dropped", 0)
