"""``python -m backout``."""

from backout.cli import run

run()
