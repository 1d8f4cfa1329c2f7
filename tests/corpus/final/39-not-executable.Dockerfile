# shape: the binary copied 0644
# expect: fail
FROM localhost:5000/static:latest
ARG TARGETARCH
COPY --chmod=0644 bin/$TARGETARCH/hello /hello
ENTRYPOINT ["/hello"]
