"""Readers of indicator list formats; each module reads one format family."""
