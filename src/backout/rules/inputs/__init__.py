"""BK9xx: what backout could not read, and suppressions that do not hold."""
