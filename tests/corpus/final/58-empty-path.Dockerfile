# shape: ENV PATH= (empty): runc searches no directory, even the working directory
# expect: fail
FROM localhost:5000/static:latest
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /usr/local/bin/hello
ENV PATH=
WORKDIR /usr/local/bin
ENTRYPOINT ["hello"]
