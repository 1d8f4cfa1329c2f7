# shape: Debian, /usr/bin, a bare name
# expect: ok
FROM localhost:5000/debian:bookworm
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /usr/bin/app
ENTRYPOINT ["app"]
