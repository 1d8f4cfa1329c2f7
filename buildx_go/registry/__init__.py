"""The OCI distribution client buildx-go reads (and tags) with (client.py), and the
credentials docker would use (credentials.py)."""
