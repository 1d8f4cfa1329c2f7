#!/bin/sh
set -e
export CGO_ENABLED=1
go build -tags sqlite -o bin/app ./cmd/app
