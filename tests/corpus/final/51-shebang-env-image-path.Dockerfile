# shape: a script whose #! is /usr/bin/env NAME, NAME found on the image's own PATH
# expect: ok
FROM localhost:5000/debian:bookworm
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /opt/tools/runner
COPY scripts/env-runner.sh /start
ENV PATH=/opt/tools:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ENTRYPOINT ["/start"]
