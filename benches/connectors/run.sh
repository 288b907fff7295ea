#!/usr/bin/env bash
# Connector benchmark: one daemon polling 1,000 RSS feeds from a local server
# (a separate process), printing CPU and memory per 1,000 polls.
# Usage: benches/connectors/run.sh [FEEDS] [LATER_ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo run --release -q -p earshot-connect --example feed_bench -- "${1:-1000}" "${2:-5}"
