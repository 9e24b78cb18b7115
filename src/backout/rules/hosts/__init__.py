"""BK5xx: can the previous package version be reinstalled on the host."""
