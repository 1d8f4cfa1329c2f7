# shape: nice -n 5 hello (a wrapper that starts its arguments)
# expect: ok
FROM localhost:5000/debian:bookworm
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /usr/local/bin/hello
ENTRYPOINT ["nice", "-n", "5", "hello"]
