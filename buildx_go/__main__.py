from buildx_go.cli.launch import entry

entry()
