# syntax=docker/dockerfile:1
#
# The `setup` CLI as a container image: a static musl binary on distroless/static (CA certificates,
# no shell, no package manager), running as a non-root user, with `setup` as the entrypoint.
#
#   docker build -t setup .
#   docker run --rm -e AWS_ACCESS_KEY_ID -e AWS_SECRET_ACCESS_KEY -e AWS_SESSION_TOKEN -e AWS_REGION \
#     -v "$PWD:/work:ro" setup status
#
# The release workflow builds it on a native runner per platform and pushes
# ghcr.io/<owner>/setup:<version> (docs/install.md).

# Base images are pinned by digest (the multi-platform index, so the amd64 and arm64 builds
# both resolve it), not only by tag: a tag can be moved to other contents, a digest cannot.
# .github/dependabot.yml proposes new digests. To look one up by hand:
#   docker buildx imagetools inspect rust:1.95.0-alpine --format '{{json .Manifest.Digest}}'
#
# The build image's tag is the toolchain of the release binaries (.github/workflows/release.yml:
# RUSTUP_TOOLCHAIN; a test keeps them in step).
FROM rust:1.95.0-alpine@sha256:606fd313a0f49743ee2a7bd49a0914bab7deedb12791f3a846a34a4711db7ed2 AS build
# Alpine's C toolchain is musl's: the TLS library's C code links statically with the Rust code.
RUN apk add --no-cache musl-dev
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY policies policies
COPY examples examples
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin setup \
    && cp target/release/setup /usr/local/bin/setup
# Refuse a dynamically linked binary: the runtime image has no C library to load.
RUN readelf --dynamic /usr/local/bin/setup > /tmp/dynamic \
    && if grep NEEDED /tmp/dynamic; then \
         echo "setup is dynamically linked; the image needs a static binary" >&2; exit 1; \
       fi \
    && /usr/local/bin/setup --version

FROM gcr.io/distroless/static-debian12:nonroot@sha256:afa5c872c891853ca7fcf1f12c3edb23f7eeef36189728842dd51042ff57f7ab
COPY --from=build /usr/local/bin/setup /usr/local/bin/setup
# The config is read from the working directory: mount it here (-v "$PWD:/work").
WORKDIR /work
# 65532, "nonroot" in distroless; ~/.aws is /home/nonroot/.aws.
USER nonroot:nonroot
ENTRYPOINT ["setup"]
CMD ["--help"]
