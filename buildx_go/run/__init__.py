"""Executes a plan phase by phase, emitting events (execute.py, steps.py), and knows when a
published build is unchanged (uptodate.py)."""
