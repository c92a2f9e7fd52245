#!/usr/bin/env bash
# Builds the LD_PRELOAD fake of libgpiod (tools/fake-gpiod/fake_gpiod.c) into OUTPUT
# (default .build/fake-gpiod/libfakegpiod.so), for tests on machines without GPIO chips.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
output="${1:-$root/.build/fake-gpiod/libfakegpiod.so}"
mkdir -p "$(dirname "$output")"
cc -shared -fPIC -O2 -Wall -Werror -o "$output.tmp" "$root/tools/fake-gpiod/fake_gpiod.c"
mv "$output.tmp" "$output"
echo "$output"
