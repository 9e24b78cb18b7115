"""The registry side of backout: an OCI distribution client, and the online rollback checks.

:mod:`backout.registry.client` asks a registry what a reference resolves to today;
:mod:`backout.registry.credentials` finds the credentials ``docker login`` stored;
:mod:`backout.registry.online` turns the answers into facts that rules BK303 and BK304 judge.
"""
