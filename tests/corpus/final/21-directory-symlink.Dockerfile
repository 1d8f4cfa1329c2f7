# shape: an ENTRYPOINT through a symlinked directory (/usr/local/app -> /opt/app)
# expect: ok
FROM localhost:5000/static:latest
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /opt/app/hello
COPY dirlink/ /
ENTRYPOINT ["/usr/local/app/hello"]
