"""The one error type users see: a one-line message, no traceback."""


class AquagenError(Exception):
    """Bad input or environment; the CLI prints ``error: <message>`` and exits 2."""
