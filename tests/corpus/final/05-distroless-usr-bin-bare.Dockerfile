# shape: static base, /usr/bin, a bare name
# expect: ok
FROM localhost:5000/static:latest
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /usr/bin/hello
ENTRYPOINT ["hello"]
