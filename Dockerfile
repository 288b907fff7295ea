# syntax=docker/dockerfile:1
# Earshot's container image: one binary, every subcommand.
#
#   docker build -t earshot .
#   docker run --rm earshot check                      # the bundled config
#   docker run --rm -v $PWD/earshot.toml:/etc/earshot/earshot.toml:ro earshot sink
#
# deploy/compose/docker-compose.yml runs the whole pipeline from it; a test
# (crates/earshot/tests/deploy.rs) keeps this file, the compose file and the
# systemd units consistent with the binary.

# ---------------------------------------------------------------- builder
FROM rust:1-bookworm AS builder
# rdkafka builds its bundled librdkafka with its ./configure (bash) and make
# (no cmake with the default features), a C and C++ compiler (configure
# requires one) and zlib found through pkg-config; zstd and SQLite are built
# from source by their -sys crates with the C compiler. All of it is in the
# rust image already; named here so a slimmer base keeps working.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential pkg-config zlib1g-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The registry and target caches survive between builds (BuildKit); the
# binary is copied out of the cached target directory.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p earshot \
    && install -m 0755 target/release/earshot /usr/local/bin/earshot

# ---------------------------------------------------------------- runtime
FROM debian:bookworm-slim
# CA certificates for HTTPS sources and a TLS ClickHouse; nothing else.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 earshot \
    && useradd --system --uid 10001 --gid earshot --home-dir /var/lib/earshot --shell /usr/sbin/nologin earshot \
    && mkdir -p /var/lib/earshot \
    && chown earshot:earshot /var/lib/earshot
COPY --from=builder /usr/local/bin/earshot /usr/local/bin/earshot
# The bundled config, watchlists, lexicons, intents and routes. Mount your
# own earshot.toml (or the whole directory) over them.
COPY config/ /etc/earshot/
ENV EARSHOT_CONFIG=/etc/earshot/earshot.toml
# Data paths in the config (SQLite store, connector cursors) are relative to
# the working directory: they land in the volume.
WORKDIR /var/lib/earshot
VOLUME ["/var/lib/earshot"]
USER earshot:earshot
# SIGTERM drains in-flight work and commits before exiting 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["earshot"]
CMD ["check"]
