"""What the box's test tools share: a fresh ringlab-box on an ephemeral loopback port with its
own state folder, and the verdict line they end with."""
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class RunningBox:
    """`ringlab-box --port 0` on a new state folder; `port` and `token` once it listens."""

    def __init__(self, name, extra_arguments=()):
        self.state = tempfile.mkdtemp(prefix=f"ringlab-box-{name}-")
        self.process = subprocess.Popen(
            [os.path.join(ROOT, ".build/release/ringlab-box"), "--port", "0", "--state", self.state,
             "--board", os.path.join(ROOT, "hardware/boards/twin.yaml"), *extra_arguments],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=open(os.path.join(self.state, "box.log"), "w"), text=True)
        line = self.process.stdout.readline()
        match = re.search(r"127\.0\.0\.1:(\d+)", line)
        if not match:
            self.process.kill()
            sys.exit(f"{name}: ringlab-box did not start ({line!r}); see {self.state}/box.log")
        self.port = int(match.group(1))
        self.token = open(os.path.join(self.state, "token")).read().strip()

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=60)


def verdict(name, failures):
    """Prints the failures (or that it passed) and returns the exit status."""
    if failures:
        print(f"{name}: FAILED\n  " + "\n  ".join(failures))
        return 1
    print(f"{name}: passed")
    return 0
