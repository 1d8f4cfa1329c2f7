# shape: bash -c 'exec -a myapp hello'
# expect: ok
FROM localhost:5000/debian:bookworm
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /usr/local/bin/hello
ENTRYPOINT ["/bin/bash", "-c", "exec -a myapp hello"]
