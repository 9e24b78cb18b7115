"""BK2xx: can the old code run on the new schema, can the schema go back.

Every rule here judges the release's migrations against the schema as it was at the base,
through :func:`backout.schema_model.analyse` (computed once per check and shared).
"""
