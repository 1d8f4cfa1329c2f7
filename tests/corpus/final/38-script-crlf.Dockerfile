# shape: a script with CRLF line ends: #!/bin/sh\r is no interpreter
# expect: fail
FROM localhost:5000/debian:bookworm
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /usr/local/bin/hello
COPY scripts/crlf.sh /run.sh
ENTRYPOINT ["/run.sh"]
