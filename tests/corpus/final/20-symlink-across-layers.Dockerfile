# shape: the binary in one layer, a symlink to it on PATH in another
# expect: ok
FROM localhost:5000/static:latest
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /opt/hello-1.0
COPY links/ /
ENTRYPOINT ["hello"]
