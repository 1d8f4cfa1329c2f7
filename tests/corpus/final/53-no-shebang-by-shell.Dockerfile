# shape: a script without #!, started by sh -c: the shell runs it as a shell script
# expect: ok
FROM localhost:5000/debian:bookworm
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /usr/local/bin/hello
COPY scripts/plain.sh /start.sh
ENTRYPOINT ["/bin/sh", "-c", "/start.sh"]
