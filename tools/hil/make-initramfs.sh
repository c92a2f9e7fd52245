#!/usr/bin/env bash
# Packs the initramfs `make hil` boots: Debian's static busybox, the release ringlab with every
# shared library it loads (found by ldd), libiio's iio_info, the VM's board file and the tests.
#   tools/hil/make-initramfs.sh OUTPUT.cpio
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root_dir=$(cd "$here/../.." && pwd)
output=${1:?usage: make-initramfs.sh OUTPUT.cpio}
ringlab=$root_dir/.build/release/ringlab
[ -x "$ringlab" ] || { echo "make-initramfs: $ringlab is missing (make build)" >&2; exit 1; }
[ -x /bin/busybox ] || { echo "make-initramfs: /bin/busybox is missing (apt-get install busybox-static)" >&2; exit 1; }
file /bin/busybox | grep -q "statically linked" || { echo "make-initramfs: /bin/busybox is not static (busybox-static)" >&2; exit 1; }

staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
mkdir -p "$staging"/{bin,sbin,usr/bin,proc,sys,dev,tmp,run,etc,hil}
cp /bin/busybox "$staging/bin/busybox"
for applet in sh mount mkdir cat echo sleep; do ln -s busybox "$staging/bin/$applet"; done

# The programs and every library they load, at the paths the dynamic loader looks in.
programs=("$ringlab" /usr/bin/iio_info)
for program in "${programs[@]}"; do
  cp "$program" "$staging/usr/bin/"
  ldd "$program" | awk '/=> \// {print $3} /^\s*\/lib/ {print $1}' | while read -r library; do
    cp -L --parents "$library" "$staging"
  done
done
cp -L --parents /lib64/ld-linux-x86-64.so.2 "$staging"
# libiio's local backend reads nothing else; glibc wants these to resolve the root user.
echo "root:x:0:0:root:/root:/bin/sh" >"$staging/etc/passwd"
echo "root:x:0:" >"$staging/etc/group"

cp "$here/init" "$staging/init"
cp "$here/vm-tests.sh" "$staging/hil/vm-tests.sh"
cp "$root_dir/hardware/boards/vm-dummy.yaml" "$staging/hil/vm-dummy.yaml"
chmod +x "$staging/init" "$staging/hil/vm-tests.sh"

(cd "$staging" && find . -print0 | cpio --null -o -H newc --quiet) >"$output.tmp"
mv "$output.tmp" "$output"
echo "make-initramfs: $output ($(du -h "$output" | cut -f1))" >&2
