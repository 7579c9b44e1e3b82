"""Fixtures: keyring (filled in by its issue)."""
