from buildx_go.launch import entry

entry()
