"""Fixtures: desktop (filled in by its issue)."""
