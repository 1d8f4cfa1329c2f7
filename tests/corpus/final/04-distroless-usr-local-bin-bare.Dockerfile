# shape: distroless-like static base, /usr/local/bin, a bare-name ENTRYPOINT
# expect: ok
FROM localhost:5000/static:latest
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /usr/local/bin/hello
ENTRYPOINT ["hello", "--flag"]
