# shape: sh -c 'cd /app && ./server': not read, not checked
# expect: ok
FROM localhost:5000/debian:bookworm
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /app/server
ENTRYPOINT ["sh", "-c", "cd /app && ./server"]
