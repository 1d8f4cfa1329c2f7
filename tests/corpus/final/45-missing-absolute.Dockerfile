# shape: an absolute entrypoint that is not there
# expect: fail
FROM localhost:5000/static:latest
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /hello
ENTRYPOINT ["/nothere"]
