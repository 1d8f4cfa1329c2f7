# shape: scratch, a CMD and no ENTRYPOINT
# expect: ok
FROM scratch
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /hello
CMD ["/hello"]
