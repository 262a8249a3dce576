"""The article's entry point: `python main.py` (real-time hand pose and gestures from the webcam) and
`python main.py -r train` (training on the mini-example). Every other option is the `handpose live` (or
`handpose train`) option of the same name; `python main.py --help` lists them."""
import argparse
import sys

from handpose.apps.cli import main as cli


def main() -> int:
    parser = argparse.ArgumentParser(
        description="handpose: real-time hand pose and gestures from the webcam (default), or training (-r train). "
                    "Other options are passed on: see below.", add_help=False)
    parser.add_argument("-r", "--run", choices=["live", "train"], default="live",
                        help="live: the webcam (camera 0, or --source); train: configs/mini_example.yaml")
    parser.add_argument("-h", "--help", action="store_true", help="show this help and the options passed on")
    args, rest = parser.parse_known_args()
    if args.help:
        parser.print_help()
        print(f"\noptions of `handpose {args.run}`, passed on:\n")
        return cli([args.run, "--help"])  # argparse prints the command's help and exits 0
    if args.run == "train":
        return cli(["train", "--config", "configs/mini_example.yaml", *rest])
    return cli(["live", "--source", "0", *rest])


if __name__ == "__main__":
    sys.exit(main())
