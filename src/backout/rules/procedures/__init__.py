"""BK4xx: is the rollback documented (runbooks) and practised (CI pipelines)."""
