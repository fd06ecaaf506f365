"""The web view (一屏统览) served by `yunwang serve` and `yunwang watch --web`."""

# Here, not in server.py, so a verb can name it without importing the web stack.
DEFAULT_PORT = 8088
