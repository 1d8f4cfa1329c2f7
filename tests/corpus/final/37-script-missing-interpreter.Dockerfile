# shape: a #!/bin/bash script on a base without bash
# expect: fail
FROM localhost:5000/golang:1.27
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /usr/local/bin/hello
COPY scripts/bash.sh /run.sh
ENTRYPOINT ["/run.sh"]
