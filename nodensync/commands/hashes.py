"""Hash commands."""
G = "hash"
