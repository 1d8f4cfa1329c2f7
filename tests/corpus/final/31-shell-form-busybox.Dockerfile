# shape: shell form on a busybox image (alpine-like)
# expect: ok
FROM localhost:5000/golang:1.27
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /usr/local/bin/hello
CMD hello
