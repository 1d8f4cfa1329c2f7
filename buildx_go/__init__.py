"""buildx-go: correct, fast, verified multi-architecture images for Go projects."""

__version__ = "0.1.0"
