"""User-facing errors: the CLI prints their message and exits non-zero, never a traceback."""


class HandposeError(Exception):
    """A problem caused by the user's input (a file, a field, an option), with a message that names it."""


class DatasetError(HandposeError):
    """A dataset file or entry that cannot be used."""
