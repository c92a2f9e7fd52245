#!/usr/bin/env bash
# Installs the Debian packages ringlab builds and tests against, when they are missing.
# Idempotent: a machine that has them all is left untouched and nothing is downloaded.
set -euo pipefail

# The lab box (ringlab-box) adds SQLite for its queue and Chart.js for its page; its tests add
# a real browser (chromium, chromium-driver, python3-selenium) and an HTTP load generator (wrk).
packages=(pkg-config libiio-dev libiio-utils libgpiod-dev libopenblas-dev rt-tests
          libsqlite3-dev libjs-chart.js chromium chromium-driver python3-selenium wrk)
# `install-deps.sh hil`: what `make hil` adds — the kernel's source and build tools, qemu,
# a static busybox and cpio for the initramfs.
# `install-deps.sh hil-short`: what make test's short version needs (the initramfs only).
if [ "${1:-}" = hil ]; then
  packages=(linux-source-6.12 build-essential flex bison bc libelf-dev libssl-dev xz-utils cpio file
            qemu-system-x86 busybox-static)
elif [ "${1:-}" = hil-short ]; then
  packages=(busybox-static cpio file)
fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install ${missing[*]}" >&2; exit 1; }
  sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
