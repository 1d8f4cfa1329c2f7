FROM golang:1.22 AS build
WORKDIR /src
COPY . .
RUN go build -o /usr/local/bin/app .

FROM build AS final
RUN useradd -r app
USER app
ENTRYPOINT ["app"]
