# logtaild: a static binary on distroless (no shell, no libc), running as nonroot.
#   docker build --build-arg VERSION=$(git describe --tags --always) -t logtaild .
#   docker run -v /var/log/app:/var/log/app:ro -e LOGTAILD_ROOT=/var/log/app -p 8080:8080 logtaild

FROM golang:1.26.8-bookworm AS build
ARG VERSION=devel
WORKDIR /src
ENV GOTOOLCHAIN=local CGO_ENABLED=0
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/logtaild ./cmd/logtaild

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/logtaild /logtaild
USER nonroot:nonroot
# Inside a container, listen on every interface: publishing the port is the decision.
ENV LOGTAILD_ADDR=:8080
EXPOSE 8080
# distroless has no shell or curl: the binary probes itself (GET /healthz).
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 CMD ["/logtaild", "healthcheck"]
ENTRYPOINT ["/logtaild"]
