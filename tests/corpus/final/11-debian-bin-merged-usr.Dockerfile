# shape: Debian (merged /usr: /bin -> usr/bin), the binary copied to /bin
# expect: ok
FROM localhost:5000/debian:bookworm
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /bin/app
ENTRYPOINT ["/bin/app"]
