# shape: a non-executable file first on PATH, the executable one later
# expect: ok
FROM localhost:5000/debian:bookworm
ARG TARGETARCH
COPY --chmod=0644 bin/$TARGETARCH/hello /usr/local/bin/hello
COPY bin/$TARGETARCH/hello /usr/bin/hello
ENTRYPOINT ["hello"]
