# shape: WORKDIR /app, ENTRYPOINT ["./server"]
# expect: ok
FROM localhost:5000/static:latest
ARG TARGETARCH
WORKDIR /app
COPY bin/$TARGETARCH/hello ./server
ENTRYPOINT ["./server"]
