# shape: a relative PATH entry finds the program: runc refuses what a relative directory finds
# expect: fail
FROM localhost:5000/static:latest
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /app/bin/hello
ENV PATH=bin:/usr/local/bin:/usr/bin:/bin
WORKDIR /app
ENTRYPOINT ["hello"]
