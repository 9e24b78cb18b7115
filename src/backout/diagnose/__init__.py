"""``backout diagnose``: mid-incident, from recorded ``kubectl … -o json`` state.

:mod:`.state` reads the input, :mod:`.imageid` normalises what pods run, :mod:`.analysis`
answers the questions, :mod:`.render` writes Markdown or JSON.
"""

from __future__ import annotations

from backout.diagnose.analysis import Diagnosis, RegistryLookup, diagnose
from backout.diagnose.state import ClusterState, StateError, decode_state, parse_state

__all__ = [
    "ClusterState",
    "Diagnosis",
    "RegistryLookup",
    "StateError",
    "decode_state",
    "diagnose",
    "parse_state",
]
