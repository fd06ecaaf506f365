"""The web view (一屏统览) served by `yunwang serve` and `yunwang watch --web`."""
