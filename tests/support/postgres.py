"""Fixtures: postgres (filled in by its issue)."""
