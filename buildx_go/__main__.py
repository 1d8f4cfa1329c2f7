from buildx_go.cli import entry

entry()
