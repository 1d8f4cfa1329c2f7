# shape: ENTRYPOINT and CMD arguments
# expect: ok
FROM localhost:5000/static:latest
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /hello
ENTRYPOINT ["/hello"]
CMD ["--greet", "world"]
