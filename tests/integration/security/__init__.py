"""Attacks from the trust review (issue 11), replayed against the real server and agent."""
