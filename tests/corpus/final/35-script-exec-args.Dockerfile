# shape: an entrypoint script that ends in exec "$@", CMD the program
# expect: ok
FROM localhost:5000/debian:bookworm
ARG TARGETARCH
COPY bin/$TARGETARCH/hello /usr/local/bin/hello
COPY scripts/entrypoint.sh /entrypoint.sh
ENTRYPOINT ["/entrypoint.sh"]
CMD ["hello", "run"]
