# shape: shell form on Debian: /bin/sh -c 'hello --flag'
# expect: ok
FROM localhost:5000/debian:bookworm
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /usr/local/bin/hello
ENTRYPOINT hello --flag
