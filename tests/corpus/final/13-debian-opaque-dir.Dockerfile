# shape: Debian, /usr/local/bin removed and made again (an opaque directory above the binary)
# expect: fail
FROM localhost:5000/debian:bookworm
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /usr/local/bin/app
RUN rm -rf /usr/local/bin && mkdir /usr/local/bin
ENTRYPOINT ["/usr/local/bin/app"]
