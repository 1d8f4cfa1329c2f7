# shape: the entrypoint is a symlink to nothing
# expect: fail
FROM localhost:5000/static:latest
COPY links/ /
ENTRYPOINT ["/usr/local/bin/hello"]
