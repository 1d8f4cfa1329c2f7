FROM golang:1.22-alpine
RUN apk add --no-cache git ca-certificates
WORKDIR /app
COPY . .
RUN go build -o app .
CMD ["./app"]
