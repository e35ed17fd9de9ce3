# syntax=docker/dockerfile:1
#
# Godwit in a container: a static binary (CGO_ENABLED=0; the SQLite driver is
# pure Go) on distroless, run as a non-root user, data in the /data volume.
#
#   docker build -t godwit .
#   docker build --build-arg VERSION=v1.2.3 -t godwit:v1.2.3 .
#   docker run -p 127.0.0.1:8080:8080 -v godwit-data:/data godwit
#
# docs/deploy.md explains every line. CI does not build this image (its
# machines have no container runtime and no access to the image registries);
# deploy/deploy_test.go runs the RUN line that builds the binary, exactly as
# written here, and checks that the result is static and runs.

# Keep in step with the go line of go.mod (a test checks it).
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# VERSION names the release in `godwit version`; empty, the build info is used.
ARG VERSION=
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X github.com/godwit/godwit/internal/app.Version=${VERSION}" -o /godwit ./cmd/godwit
# The volume's mount point, owned by the nonroot user (65532), so that a new
# named volume starts out writable by it.
RUN mkdir -p /out/data

# distroless/static: CA certificates, tzdata, /etc/passwd with nonroot; no
# shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /godwit /godwit
COPY --from=build --chown=65532:65532 /out/data /data
USER nonroot:nonroot
# The SQLite database and secret.key (which encrypts DKIM keys at rest) live
# here: keep the volume, and back up secret.key even when using PostgreSQL.
ENV GODWIT_DATA_DIR=/data
VOLUME /data
# Plain HTTP on every interface of the container: a TLS-terminating proxy
# (Caddy, nginx, Traefik, a load balancer) is expected in front. These are
# environment variables rather than flags of CMD so that the HEALTHCHECK
# process, which sees the environment but not CMD, dials the same listener.
# To terminate TLS in Godwit instead, set e.g.
#   GODWIT_HTTP_ADDR=0.0.0.0:8443 GODWIT_ACME_DOMAIN=api.mail.example.com
# (and publish 443:8443); --insecure-http does nothing once TLS is on.
ENV GODWIT_HTTP_ADDR=0.0.0.0:8080 \
    GODWIT_INSECURE_HTTP=true
# A listener on every interface means real domains: give this server's fully
# qualified name, which every domain publishes in its MX and SPF records and
# which is the EHLO name (its PTR record must match it); without it the
# server refuses to start, in one sentence:
#   docker run -e GODWIT_MX_HOST=mail.example.com …
# The API and the dashboard.
EXPOSE 8080
# The SMTP listeners are off by default. To enable them, set their variables
# and publish the ports; the non-root user listens on high ports, mapped to the
# standard ones (submission needs TLS: a certificate, or a proxy and
# GODWIT_SMTP_ALLOW_INSECURE_AUTH=true):
#   GODWIT_MX_ADDR=:2525     bounces and complaints   (docker run -p 25:2525)
#   GODWIT_SMTP_ADDR=:2587   submission, STARTTLS     (docker run -p 587:2587)
#   GODWIT_SMTPS_ADDR=:2465  submission, implicit TLS (docker run -p 465:2465)
# EXPOSE 2525 2587 2465
# GET /readyz on the --http-addr listener (over HTTPS when TLS is on); the
# image has no curl, so the binary asks.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/godwit", "healthcheck"]
ENTRYPOINT ["/godwit"]
CMD ["serve"]
