# shape: a script without #!, started by Debian's env: glibc's execvp runs it with /bin/sh
# expect: ok
FROM localhost:5000/debian:bookworm
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /usr/local/bin/hello
COPY scripts/plain.sh /start.sh
ENTRYPOINT ["env", "MODE=prod", "/start.sh"]
