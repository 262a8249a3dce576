"""The web front end: `handpose serve` and `python main-flask.py`."""
