"""Where decisions go beyond the embedded store."""
