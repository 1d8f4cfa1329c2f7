# shape: env -i clears PATH: glibc's execvp searches /bin:/usr/bin only, the program is in /usr/local/bin
# expect: fail
FROM localhost:5000/debian:bookworm
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /usr/local/bin/hello
ENTRYPOINT ["env", "-i", "hello"]
