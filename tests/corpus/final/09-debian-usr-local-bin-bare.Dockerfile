# shape: Debian, the binary in /usr/local/bin, ENTRYPOINT ["app"]
# expect: ok
FROM localhost:5000/debian:bookworm
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /usr/local/bin/app
ENTRYPOINT ["app"]
