"""BK1xx: what ``rollout undo`` restores (image references, revision history, immutable fields)."""
