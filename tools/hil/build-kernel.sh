#!/usr/bin/env bash
# Builds the small x86_64 kernel `make hil` boots, from Debian's linux-source-6.12 package:
# tinyconfig plus tools/hil/kernel.config (IIO core, triggered buffers, the hrtimer software
# trigger, the IIO simple dummy driver with its buffer, gpio-sim, the GPIO character device with
# the v1 uAPI, configfs, devtmpfs, a serial console, initramfs). Prints the bzImage's path.
#
# The image is cached under $RINGLAB_HIL_CACHE (default ~/.cache/ringlab-hil) by the digest of
# what decides its configuration — the fragment, the source package's version and the recipe
# below (bump `recipe` when a change to this script changes the image) — so a machine that built
# it once boots it again without rebuilding. A cold build took 7 min 14 s on 2 idle cores (11.4
# CPU-minutes, extraction included) and 20.5 minutes on 2 cores shared with other builds; a
# cached one takes under a second.
set -euo pipefail
recipe="tinyconfig + fragment, bzImage, v1"

here=$(cd "$(dirname "$0")" && pwd)
fragment=$here/kernel.config
package=linux-source-6.12
tarball=/usr/src/$package.tar.xz
# --cached-path prints nothing when the source package is not installed: no image can match.
if [ "${1:-}" = --cached-path ] && [ ! -f "$tarball" ]; then exit 0; fi
[ -f "$tarball" ] || { echo "build-kernel: $tarball is missing (apt-get install $package)" >&2; exit 1; }
version=$(dpkg-query -W -f='${Version}' "$package")

digest=$( { cat "$fragment"; echo "$package $version"; echo "$recipe"; } | sha256sum | cut -c1-16)
cache=${RINGLAB_HIL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ringlab-hil}
image=$cache/kernel-$digest/bzImage
# --cached-path: where this configuration's image is (or would be), building nothing.
if [ "${1:-}" = --cached-path ]; then
  echo "$image"
  exit 0
fi
if [ -f "$image" ]; then
  echo "build-kernel: cached $image ($package $version)" >&2
  echo "$image"
  exit 0
fi

work=$cache/build-$digest
rm -rf "$work"
mkdir -p "$work"
started=$(date +%s)
echo "build-kernel: extracting $package $version into $work" >&2
tar -xf "$tarball" -C "$work" --strip-components=1
cd "$work"
make -s ARCH=x86_64 tinyconfig >/dev/null
scripts/kconfig/merge_config.sh -m .config "$fragment" >/dev/null
make -s ARCH=x86_64 olddefconfig >/dev/null
# Every line of the fragment must have taken: a dependency Kconfig refused drops it silently.
missing=$(grep -E '^CONFIG_' "$fragment" | while read -r line; do grep -qx "$line" .config || echo "$line"; done)
if [ -n "$missing" ]; then
  echo "build-kernel: the configuration did not take these lines of $fragment:" >&2
  echo "$missing" >&2
  exit 1
fi

jobs=$(nproc)
echo "build-kernel: building bzImage with $jobs jobs (about 7 minutes on 2 idle cores; log in $work/build.log)" >&2
make ARCH=x86_64 -j"$jobs" bzImage >"$work/build.log" 2>&1 &
builder=$!
while kill -0 "$builder" 2>/dev/null; do
  sleep 30
  kill -0 "$builder" 2>/dev/null && echo "build-kernel: $(grep -c ' CC ' "$work/build.log" || true) files compiled, $(( $(date +%s) - started )) s" >&2
done
if ! wait "$builder"; then
  tail -30 "$work/build.log" >&2
  echo "build-kernel: the kernel build failed (whole log: $work/build.log)" >&2
  exit 1
fi

mkdir -p "$(dirname "$image")"
cp arch/x86/boot/bzImage "$image.tmp"
cp .config "$(dirname "$image")/config"
mv "$image.tmp" "$image"
cd /
rm -rf "$work"
echo "build-kernel: built $image in $(( $(date +%s) - started )) s" >&2
echo "$image"
