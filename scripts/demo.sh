#!/bin/sh
# What `make demo` runs: until the runtime lands, a check of the example
# configuration that shows every effective key and where it came from.
set -eu
SLUICE=${1:-build/dev/sluice}
cd "$(dirname "$0")/.."
echo "== sluice config check examples/sluice.yaml"
"$SLUICE" config check examples/sluice.yaml
