# shape: no ENTRYPOINT and no CMD
# expect: fail
FROM scratch
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /hello
