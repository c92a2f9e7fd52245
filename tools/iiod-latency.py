#!/usr/bin/env python3
"""Attribute-write latency on an iiod server while iio_readdev streams big blocks from it.

Starts `iio_readdev -b BLOCK` against ip:127.0.0.1:PORT, then sends WRITES writes of the
`trigger` attribute from another connection, 5 ms apart, and prints p50, p99 and max of the
time to each reply, and how many failed. (The server's target: p99 ≤ 10 ms, none failed.)
"""
import argparse, socket, subprocess, sys, time

def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pid", type=int, help="unused (serve-and-run passes it)")
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--block", type=int, default=600000)
    args = parser.parse_args()
    reader = subprocess.Popen(["iio_readdev", "-u", f"ip:127.0.0.1:{args.port}", "-b", str(args.block),
                               "-s", str(args.block * 1000), "ring-adc", "voltage0"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    connection = socket.create_connection(("127.0.0.1", args.port), timeout=10)
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    latencies, failures = [], 0
    for index in range(args.writes):
        value = f"{index % 2}\0".encode()
        started = time.perf_counter()
        connection.sendall(b"WRITE iio:device2 trigger 2\r\n" + value)
        reply = b""
        try:
            while not reply.endswith(b"\n"):
                reply += connection.recv(64)
        except OSError:
            failures += 1
        latencies.append((time.perf_counter() - started) * 1000)
        if reply.strip() != b"2":
            failures += 1
        time.sleep(0.005)
    streaming = reader.poll() is None
    reader.terminate()
    latencies.sort()
    count = len(latencies)
    print(f"iiod-latency: {count} attribute writes while iio_readdev streams {args.block}-sample blocks: "
          f"p50 {latencies[count // 2]:.2f} ms, p99 {latencies[max(int(count * 0.99) - 1, 0)]:.2f} ms, "
          f"max {latencies[-1]:.2f} ms; {failures} failed; stream {'kept going' if streaming else 'STOPPED'}")
    return 0 if failures == 0 and streaming else 1

if __name__ == "__main__":
    sys.exit(main())
