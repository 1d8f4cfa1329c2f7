# shape: ENV PATH=/opt/bin:$PATH, a bare name found in /opt/bin
# expect: ok
FROM localhost:5000/debian:bookworm
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /opt/bin/hello
ENV PATH=/opt/bin:$PATH
ENTRYPOINT ["hello"]
