# The loomcast binary for docker-compose.yml: serve, worker and migrate.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=1 go build -trimpath -ldflags="-s -w" -o /out/loomcast ./cmd/loomcast && mkdir -p /out/blobs

FROM gcr.io/distroless/base-debian12:nonroot
COPY --from=build /out/loomcast /loomcast
# Blob storage volume, owned by the nonroot user (65532).
COPY --from=build --chown=65532:65532 /out/blobs /var/lib/loomcast/blobs
USER nonroot
EXPOSE 8080
ENTRYPOINT ["/loomcast"]
CMD ["serve"]
