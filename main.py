"""The article's entry point: `python main.py` (live webcam) and `python main.py -r train`."""
import argparse
import sys

from handpose.apps.cli import main as cli


def main() -> int:
    parser = argparse.ArgumentParser(description="handpose: real-time hand pose (default) or training (-r train)")
    parser.add_argument("-r", "--run", choices=["live", "train"], default="live")
    args, rest = parser.parse_known_args()
    if args.run == "train":
        return cli(["train", "--config", "configs/mini_example.yaml", *rest])
    return cli(["live", "--source", "0", *rest])


if __name__ == "__main__":
    sys.exit(main())
