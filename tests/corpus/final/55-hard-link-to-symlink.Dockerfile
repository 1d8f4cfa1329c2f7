# shape: a hard link to a symlink (GNU ln links the symlink itself), found on PATH
# expect: ok
FROM localhost:5000/debian:bookworm
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /usr/local/bin/hello
RUN ln -s /usr/local/bin/hello /usr/local/bin/h1 && ln /usr/local/bin/h1 /usr/local/bin/server
ENTRYPOINT ["server"]
