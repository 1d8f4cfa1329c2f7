# shape: ko's layout: /ko-app/NAME, PATH extended with /ko-app
# expect: ok
FROM localhost:5000/static:latest
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /ko-app/hello
ENV PATH=/usr/local/bin:/usr/bin:/bin:/ko-app
ENTRYPOINT ["/ko-app/hello"]
