# shape: an amd64 binary copied for every platform
# expect: linux/amd64=ok linux/arm64=fail
FROM localhost:5000/static:latest
COPY bin/amd64/hello /hello
ENTRYPOINT ["/hello"]
