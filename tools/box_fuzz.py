#!/usr/bin/env python3
"""Fuzzes the box's HTTP API from its OpenAPI file (docs/box-api.yaml) with schemathesis
(PyPI; a test tool, never part of the product): a fresh ringlab-box on loopback with its token,
every documented operation with generated and malformed inputs, checking that no answer is a
server error, that answers match the documented status codes and content types, and that the
service is still up and answering /healthz afterwards.

Usage: tools/box_fuzz.py [--examples N]   (make fuzz-box: 200; make test: 25)
The event stream is left out: it stays open for as long as its job runs.
"""
import argparse
import os
import subprocess
import sys
import urllib.request

from box_support import ROOT, RunningBox


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=200)
    arguments = parser.parse_args()
    if subprocess.run([sys.executable, "-m", "schemathesis.cli", "--version"], capture_output=True).returncode != 0:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "schemathesis"], check=True)
    box = RunningBox("fuzz", ["--cancel-grace", "1"])
    port, token = box.port, box.token
    try:
        # Hold the queue: fuzzed submissions that are valid jobs wait instead of driving the board.
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/queue/hold", method="POST", data=b"{}",
            headers={"Authorization": "Bearer " + token})
        urllib.request.urlopen(request).read()
        result = subprocess.run(
            [sys.executable, "-m", "schemathesis.cli", "run", os.path.join(ROOT, "docs/box-api.yaml"),
             "--url", f"http://127.0.0.1:{port}", "-H", f"Authorization: Bearer {token}",
             "--checks", "not_a_server_error,status_code_conformance,content_type_conformance",
             "--exclude-path-regex", "events$|/queue/release$", "-n", str(arguments.examples), "--seed", "1",
             "--request-timeout", "30"],
            cwd=ROOT)
        alive = box.process.poll() is None
        healthy = alive and urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz").status == 200
    finally:
        box.stop()
    print(f"box_fuzz: schemathesis exit {result.returncode}; service alive after: {alive}, /healthz: {healthy}")
    return 0 if result.returncode == 0 and healthy else 1


if __name__ == "__main__":
    sys.exit(main())
