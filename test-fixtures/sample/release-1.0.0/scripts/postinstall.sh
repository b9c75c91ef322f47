#!/bin/sh
# Optional post-install step: prints where the app lives.
echo "sample installed in $(cd "$(dirname "$0")/.." && pwd)"
