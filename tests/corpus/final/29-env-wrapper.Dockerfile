# shape: /usr/bin/env VAR=x hello (Debian's env)
# expect: ok
FROM localhost:5000/debian:bookworm
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /usr/local/bin/hello
ENTRYPOINT ["/usr/bin/env", "GREETING=hi", "hello"]
