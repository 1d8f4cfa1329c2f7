# shape: static base, USER 65532:65532
# expect: ok
FROM localhost:5000/static:latest
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /usr/local/bin/hello
USER 65532:65532
ENTRYPOINT ["hello"]
