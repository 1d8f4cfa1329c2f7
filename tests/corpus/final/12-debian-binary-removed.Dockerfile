# shape: Debian, the binary removed by a later RUN: not found anywhere on PATH
# expect: fail
FROM localhost:5000/debian:bookworm
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /usr/local/bin/app
RUN rm /usr/local/bin/app
ENTRYPOINT ["app"]
