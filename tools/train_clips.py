"""Real sign-language clips for TRAINING (the hand detector, the pose model) and for choosing live's settings,
from repository snapshots, kept apart from the evaluation clips of bench/realdata.py (no repository is on both
sides; the evaluation sources' signers, StartASL and ASLU material included, are not among these).

    .venv/bin/python tools/train_clips.py MIRROR_DIR OUT          # OUT: runs/train_clips
    handpose label OUT --out runs/sign_labels --every 3 --frames  # MediaPipe boxes every hand it is sure of

MIRROR_DIR holds the snapshots as the `fetch` tool writes them (``<owner>+<name>/repo``, bare git). Each
source's clips are written to OUT/<source>/ (bytes as committed, spaces made underscores) with
OUT/manifest.json (repository @ commit, licence as stated, the clips kept and why others were not).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from handpose.io import atomic_write_json  # noqa: E402
from realdata import ClipSource, InputError, build_clips, check_snapshot  # noqa: E402

SOURCES = [
    ClipSource("thai_tsl", "dominyl880/web_thai_tsl", "ce206ff859d968f88d5d6c96e34b3d5a73c43452", "none stated",
               "videos/", "Thai sign-language dictionary clips, about ten signers before grey studio backdrops, "
               "upper body, both hands in view", rule="thai"),
    ClipSource("bisig", "Golgrax/BISIG-API", "3ffa9b09eaa3c542b9ca1f87bc1d880772868662", "none stated", "videos/",
               "ASL word clips on white, mostly one signer (an app logo top-left, a caption bar), about four more"),
    ClipSource("text2hand", "acarrasquillo/text2hand", "3f83b466f21ba028726254f851f160ca1e963c2b", "none stated",
               "videos/", "ASL dictionary clips of one signer before plain backdrops"),
    ClipSource("isl_handsign", "vaibhavkothari33/speech_to_handsign", "e926f1a861e50e284a3b62d828716cb399213125",
               "none stated", "video/", "Indian sign-language clips of one signer before a white wall, 1080p"),
]


def keep(source: ClipSource, clips: list[dict]) -> tuple[list[dict], dict[str, str]]:
    """(clips kept, {left-out clip: why}). ``thai``: its 30 fps clips are screen captures of players and TV (a
    play button, controls, a channel logo) and are left out; its 480x480 clips are all one signer, so every 5th
    of them (in path order) is kept beside every clip of the others."""
    if source.rule == "all":
        return clips, {}
    out, why, square480 = [], {}, 0
    for c in clips:
        if round(c["fps"]) == 30:
            why[c["from"]] = "30 fps: a screen capture"
        elif c["size"] == [480, 480]:
            if square480 % 5 == 0:
                out.append(c)
            else:
                why[c["from"]] = "480x480, the one signer: every 5th kept"
            square480 += 1
        else:
            out.append(c)
    return out, why


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mirrors", type=Path, help="folder of repository snapshots (<owner>+<name>/repo)")
    ap.add_argument("out", type=Path, help="where the clips and manifest.json go (keep it out of the repository)")
    args = ap.parse_args()
    try:
        gitdirs = {s.name: check_snapshot(args.mirrors, s) for s in SOURCES}  # all checked before writing
        manifest = []
        for s in SOURCES:
            clips = build_clips(s, gitdirs[s.name], args.out / s.name, cap=1_000_000)  # every clip that decodes
            kept, left = keep(s, clips)
            for c in clips:
                if c not in kept:
                    (args.out / s.name / c["file"]).unlink()
            manifest.append({"source": s.name, "repository": f"{s.repo} @ {s.commit}", "licence": s.licence,
                             "what": s.what, "clips": kept, "left_out": left})
            print(f"{s.name}: {len(kept)} clips, {sum(c['frames'] for c in kept)} frames ({len(left)} left out)")
        atomic_write_json(args.out / "manifest.json", manifest)
    except (InputError, OSError, subprocess.CalledProcessError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
