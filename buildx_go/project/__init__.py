"""What the Go project is, read from its files: go.mod and its main packages (gomod.py),
build constraints (constraints.py), the cgo import graph (cgograph.py), git (gitinfo.py)."""
