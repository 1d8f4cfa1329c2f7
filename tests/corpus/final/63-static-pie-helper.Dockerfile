# shape: a static-PIE helper compiled on the build platform only (ET_DYN, no interpreter: still an executable)
# expect: linux/amd64=ok linux/arm64=fail
# run-also: /usr/local/bin/helper
FROM --platform=$BUILDPLATFORM localhost:5000/golang:1.27-bookworm AS helper
COPY scripts/helper.c /helper.c
RUN gcc -static-pie -O2 -o /helper /helper.c

FROM localhost:5000/static:latest
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /usr/local/bin/hello
COPY --from=helper /helper /usr/local/bin/helper
ENTRYPOINT ["/usr/local/bin/hello"]
