# shape: static base, /usr/sbin, a bare name
# expect: ok
FROM localhost:5000/static:latest
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /usr/sbin/hello
ENTRYPOINT ["hello"]
