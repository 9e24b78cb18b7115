"""``python -m backout``."""

from backout._entry import run

run()
