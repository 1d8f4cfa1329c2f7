# shape: WORKDIR /srv and CMD a bare name found on PATH
# expect: ok
FROM localhost:5000/debian:bookworm
ARG TARGETARCH
WORKDIR /srv
COPY bin/$TARGETARCH/hello /usr/local/bin/hello
CMD ["hello", "serve"]
