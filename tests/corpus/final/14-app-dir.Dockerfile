# shape: a service in /app, absolute
# expect: ok
FROM localhost:5000/static:latest
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /app/server
ENTRYPOINT ["/app/server"]
