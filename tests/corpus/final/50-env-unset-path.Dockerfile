# shape: env -u PATH: the same as env -i for the lookup
# expect: fail
FROM localhost:5000/debian:bookworm
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /usr/local/bin/hello
ENTRYPOINT ["env", "-u", "PATH", "hello"]
