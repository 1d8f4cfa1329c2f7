# shape: tini starting a program that is not there
# expect: fail
FROM localhost:5000/static:latest
ARG TARGETARCH
COPY bin/$TARGETARCH/shim /sbin/tini
ENTRYPOINT ["/sbin/tini", "--", "/nothere"]
