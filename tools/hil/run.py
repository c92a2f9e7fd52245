#!/usr/bin/env python3
"""Boots the `make hil` VM and turns what its tests print on the serial console into test
results: the kernel (tools/hil/build-kernel.sh: built once, then cached), a fresh initramfs with
the release ringlab (tools/hil/make-initramfs.sh), qemu-system-x86_64 with KVM when /dev/kvm is
usable and TCG otherwise, and a time limit on the whole boot.

    make hil                      # builds ringlab, then this
    tools/hil/run.py [--timeout 600] [--kernel bzImage]

Every test in EXPECTED must report PASS; one that never reports (the VM hung, crashed or ran
out of time) fails. The console is kept in test-artifacts/hil/console.log and the results in
test-artifacts/hil/results.xml (JUnit). Exit status 0 only when every test passed.
"""

import argparse
import fcntl
import os
import re
import select
import subprocess
import sys
import time
from xml.sax.saxutils import escape, quoteattr

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ARTIFACTS = os.path.join(ROOT, "test-artifacts", "hil")

# The tests tools/hil/vm-tests.sh runs, in its order.
EXPECTED = [
    "configfs-setup",
    "info-lists-devices-and-lines",
    "adc-buffer-through-local-backend",
    "dac-raw-held-at-safe-level",
    "gpio-outputs-driven-during-run",
    "dac-paced-raw-stream-during-run",
    "busy-line-one-clear-line",
    "interlock-stops-run",
    "missing-device-one-clear-line",
    "wrong-channel-one-clear-line",
]

RESULT = re.compile(r"HIL-RESULT (PASS|FAIL) ([^\s:]+):?\s*(.*)")


def kvm_usable():
    """Whether this process may create KVM VMs (/dev/kvm opens and answers its API version)."""
    try:
        descriptor = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        return fcntl.ioctl(descriptor, 0xAE00) == 12  # KVM_GET_API_VERSION
    except OSError:
        return False
    finally:
        os.close(descriptor)


def timed(label, command):
    started = time.monotonic()
    result = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    if result.returncode != 0:
        sys.exit(f"hil: {label} failed (exit {result.returncode})")
    print(f"hil: {label}: {time.monotonic() - started:.1f} s", flush=True)
    return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""


# Under KVM the kernel prints its banner within seconds; a nested KVM that opens but never runs
# the guest (seen on a VM host: /dev/kvm answers, the guest stays silent) is given this long.
KVM_BANNER_SECONDS = 30


def boot(kernel, initramfs, timeout, kvm):
    """Runs the VM; returns (results by name, console lines, seconds, how it ended, measures)."""
    accel = ["-enable-kvm", "-cpu", "host"] if kvm else ["-accel", "tcg"]
    command = (
        ["qemu-system-x86_64", "-m", "1024", "-smp", "2", "-nographic", "-no-reboot", "-nodefaults", "-serial", "stdio"]
        + accel
        + ["-kernel", kernel, "-initrd", initramfs, "-append",
           "console=ttyS0 earlyprintk=serial,ttyS0,115200 panic=-1 loglevel=4"]
    )
    started = time.monotonic()
    vm = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    results, lines, pending, ended, measures = {}, [], b"", "timeout", []
    try:
        while True:
            left = timeout - (time.monotonic() - started)
            if left <= 0:
                break
            ready, _, _ = select.select([vm.stdout], [], [], min(left, 1.0))
            if kvm and not any("Linux version" in line for line in lines) \
                    and time.monotonic() - started > KVM_BANNER_SECONDS:
                ended = "kvm-silent"
                break
            if not ready:
                continue
            chunk = os.read(vm.stdout.fileno(), 65536)
            if not chunk:
                ended = f"qemu exited ({vm.wait()})"
                break
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for raw in complete:
                line = raw.decode("utf-8", "replace").rstrip("\r")
                lines.append(line)
                match = RESULT.search(line)
                if match:
                    results[match.group(2)] = (match.group(1), (match.group(3) or "").strip())
                    print(f"  {match.group(1)} {match.group(2)} {match.group(3) or ''}".rstrip(), flush=True)
                if line.startswith("HIL-MEASURE"):
                    measures.append(line[len("HIL-MEASURE "):])
                    print(f"  measured: {measures[-1]}", flush=True)
                if "HIL-END" in line:
                    ended = "the tests finished"
                if "Kernel panic" in line:
                    ended = "kernel panic"
    finally:
        if vm.poll() is None:
            vm.kill()
            vm.wait()
    return results, lines, time.monotonic() - started, ended, measures


def write_junit(path, results, seconds):
    failures = sum(1 for name in EXPECTED if results.get(name, ("FAIL",))[0] != "PASS")
    cases = []
    for name in EXPECTED:
        status, detail = results.get(name, ("FAIL", "never reported (the VM hung, crashed or ran out of time)"))
        body = "" if status == "PASS" else f"<failure message={quoteattr(detail)}>{escape(detail)}</failure>"
        cases.append(f'  <testcase classname="hil" name={quoteattr(name)}>{body}</testcase>')
    with open(path, "w") as out:
        out.write(f'<testsuite name="hil" tests="{len(EXPECTED)}" failures="{failures}" time="{seconds:.1f}">\n')
        out.write("\n".join(cases) + "\n</testsuite>\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timeout", type=float, default=600, help="seconds the VM may take from boot to its end")
    parser.add_argument("--kernel", help="a bzImage to boot instead of building or reusing the cached one")
    parser.add_argument("--cached-only", action="store_true",
                        help="skip (exit 0, saying so) when the kernel of the current configuration is not cached")
    arguments = parser.parse_args()
    os.makedirs(ARTIFACTS, exist_ok=True)

    build = [os.path.join(HERE, "build-kernel.sh")]
    if arguments.cached_only and not arguments.kernel:
        cached = subprocess.run(build + ["--cached-path"], stdout=subprocess.PIPE, text=True).stdout.strip()
        if not os.path.exists(cached):
            print("hil: the kernel of this configuration is not built on this machine; make hil builds it")
            return 0
    kernel = arguments.kernel or timed("kernel", build)
    initramfs = os.path.join(ARTIFACTS, "initramfs.cpio")
    timed("initramfs", [os.path.join(HERE, "make-initramfs.sh"), initramfs])
    kvm = kvm_usable()
    print(f"hil: booting {kernel} under {'KVM' if kvm else 'TCG (no usable /dev/kvm)'}, limit {arguments.timeout:.0f} s",
          flush=True)
    results, lines, seconds, ended, measures = boot(kernel, initramfs, arguments.timeout, kvm)
    if ended == "kvm-silent":
        print(f"hil: under KVM the kernel printed nothing in {KVM_BANNER_SECONDS} s (a nested KVM that does not run "
              "guests); booting again under TCG", flush=True)
        kvm = False
        results, lines, seconds, ended, measures = boot(kernel, initramfs, arguments.timeout, kvm)
    with open(os.path.join(ARTIFACTS, "measures.txt"), "w") as out:
        out.write("".join(line + "\n" for line in measures))
    with open(os.path.join(ARTIFACTS, "console.log"), "w") as log:
        log.write("\n".join(lines) + "\n")
    write_junit(os.path.join(ARTIFACTS, "results.xml"), results, seconds)

    passed = [name for name in EXPECTED if results.get(name, ("FAIL",))[0] == "PASS"]
    unexpected = sorted(set(results) - set(EXPECTED))
    print(f"hil: {len(passed)} of {len(EXPECTED)} tests passed in {seconds:.1f} s under {'KVM' if kvm else 'TCG'} "
          f"({ended}); "
          f"console in {os.path.relpath(os.path.join(ARTIFACTS, 'console.log'), ROOT)}")
    for name in EXPECTED:
        if name not in passed:
            print(f"hil: FAILED {name}: {results.get(name, ('', 'never reported'))[1]}")
    if unexpected:
        print(f"hil: tests the harness does not know: {', '.join(unexpected)}")
    return 0 if len(passed) == len(EXPECTED) and not unexpected else 1


if __name__ == "__main__":
    sys.exit(main())
