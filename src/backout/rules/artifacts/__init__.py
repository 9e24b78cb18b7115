"""BK3xx: does the rollback target still exist (retention, registry, build inputs)."""
