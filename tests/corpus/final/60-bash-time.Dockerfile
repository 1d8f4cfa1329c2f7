# shape: bash -c 'time hello' (a bash keyword)
# expect: ok
FROM localhost:5000/debian:bookworm
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /usr/local/bin/hello
ENTRYPOINT ["/bin/bash", "-c", "time hello"]
