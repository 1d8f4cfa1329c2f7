# shape: USER app that no /etc/passwd names
# expect: fail
FROM localhost:5000/static:latest
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /hello
USER app
ENTRYPOINT ["/hello"]
