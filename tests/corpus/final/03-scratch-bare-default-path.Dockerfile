# shape: scratch, no PATH in the config: a bare name through docker's default PATH
# expect: ok
FROM scratch
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /usr/local/bin/hello
ENTRYPOINT ["hello"]
