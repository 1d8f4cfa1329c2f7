# shape: an entrypoint script that starts the program itself: not checked
# expect: ok
FROM localhost:5000/golang:1.27
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /usr/local/bin/hello
COPY scripts/run.sh /run.sh
ENTRYPOINT ["/run.sh"]
