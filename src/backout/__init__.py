"""backout: prove a release can be rolled back before it is deployed."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("backout")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"
