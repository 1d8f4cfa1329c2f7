# shape: tini found on PATH, the program a bare name too
# expect: ok
FROM localhost:5000/debian:bookworm
ARG TARGETARCH
COPY bin/$TARGETARCH/shim /usr/bin/tini
COPY bin/$TARGETARCH/hello /usr/local/bin/hello
ENTRYPOINT ["tini", "--"]
CMD ["hello"]
