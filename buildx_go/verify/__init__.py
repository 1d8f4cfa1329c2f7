"""What was published, read as an engine reads it: layers (layers.py, imagefs.py), the
program it starts (entrypoint.py), binaries (binary.py), checked per platform (check.py);
what passed is kept by digest (cache.py)."""
