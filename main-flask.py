"""The article's web entry point: `python main-flask.py`, then open http://localhost:5000/.

The same app as `handpose serve` (waitress, a production WSGI server), on Flask's usual port 5000.
"""
import argparse
import sys

from handpose.errors import HandposeError
from handpose.apps.web import serve


def main() -> int:
    parser = argparse.ArgumentParser(description="handpose web app: upload a hand photo, see its pose")
    serve.add_arguments(parser, port=5000)
    args = parser.parse_args()
    try:
        return serve.run(args)
    except HandposeError as e:
        print(f"main-flask.py: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
