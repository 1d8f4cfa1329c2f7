export CGO_ENABLED ?= 1
