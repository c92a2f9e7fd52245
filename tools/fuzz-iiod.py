#!/usr/bin/env python3
"""Protocol-aware fuzz of an iiod server over TCP (docs/iiod-protocol.md).

Sends FRAMES frames over many connections to 127.0.0.1:PORT: valid commands with hostile
arguments (huge, negative, junk lengths), OPEN/READBUF/WRITEBUF with payloads of the wrong
length, cyclic buffers written twice, attribute writes, binary junk, over-long lines, pipelined
requests whose replies are never read, abrupt closes. Every 2,000 frames it reads the server's
resident set from /proc/PID/status; at the end it runs `iio_info`. Prints one summary line and
exits 1 if the server died, stopped answering, or its resident set passed --max-rss-mb.

    tools/fuzz-iiod.py --port 30431 --pid $(pgrep ringlab-iiod) --frames 500000 --seed 1
"""
import argparse, random, socket, subprocess, sys, time

def resident_mb(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0

def frame(rng):
    dev = rng.choice(["iio:device0", "iio:device1", "iio:device2", "iio:device9", "ring-adc", "ring-dac", "x" * 300])
    num = rng.choice([0, 1, 2, 3, 16, 64, 4096, 600000, 1 << 20, (1 << 20) + 1, 4194304, -1, -65536,
                      2**31, 2**63, 10**30, rng.randrange(0, 70000)])
    kind = rng.randrange(14)
    if kind == 0:
        return f"OPEN {dev} {num} {rng.choice(['00000001', '00000003', '1', 'ffffffff', 'zz'])}{rng.choice(['', ' CYCLIC', ' cyclic', ' X'])}\r\n".encode()
    if kind == 1:
        return f"READBUF {dev} {num}\r\n".encode()
    if kind == 2:
        payload = bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 2, 7, 64, 300])))
        return f"WRITEBUF {dev} {num}\r\n".encode() + payload
    if kind == 3:
        attr = rng.choice(["raw", "scale", "sampling_frequency", "amp_enable", "loop_close", "interlock", "nope"])
        where = rng.choice(["", "INPUT voltage0 ", "OUTPUT voltage0 ", "BUFFER ", "DEBUG ", "OUTPUT voltage7 "])
        value = rng.choice([b"1\0", b"0\0", b"65535\0", b"-1\0", b"nan\0", b"\xff" * 9])
        return f"WRITE {dev} {where}{attr} {rng.choice([len(value), num])}\r\n".encode() + value
    if kind == 4:
        where = rng.choice(["", "INPUT voltage0 ", "OUTPUT voltage0 ", "BUFFER ", "DEBUG "])
        return f"READ {dev} {where}{rng.choice(['raw', 'length', 'amp_enable', 'interlock', 'zz'])}\r\n".encode()
    if kind == 5:
        return rng.choice([b"PRINT\r\n", b"VERSION\r\n", b"ZPRINT\r\n", b"HELP\r\n", b"\r\n", b"TIMEOUT 100\r\n",
                           f"CLOSE {dev}\r\n".encode(), f"GETTRIG {dev}\r\n".encode(), f"SETTRIG {dev} t\r\n".encode(),
                           f"SET {dev} BUFFERS_COUNT {num}\r\n".encode()])
    if kind == 6:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
    if kind == 7:
        return b"A" * rng.choice([4095, 4096, 4097, 9000, 70000]) + b"\n"
    if kind == 8:  # the four frames that once corrupted the heap
        return (b"OPEN iio:device1 1 00000001 CYCLIC\r\nWRITEBUF iio:device1 2\r\n\x01\x02"
                b"WRITEBUF iio:device1 2\r\n\x01\x02WRITEBUF iio:device1 64\r\n" + bytes(64))
    if kind == 9:
        return f"OPEN iio:device0 16 00000001\r\nREADBUF iio:device0 {rng.choice([32, 4194304])}\r\n".encode()
    if kind == 10:
        return b"OPEN iio:device1 8 00000001\r\nWRITEBUF iio:device1 16\r\n" + bytes(rng.randrange(256) for _ in range(16))
    if kind == 11:
        return f"{rng.choice(['open', 'Read', 'readbuf', 'EXIT'])} {dev} {num} {num}\n".encode()
    if kind == 12:
        return b"WRITE iio:device2 amp_enable 2\r\n1\0"
    return b"READ iio:device0 INPUT voltage0 raw\r\n"

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pid", type=int, required=True, help="the server's process id, for its resident set")
    parser.add_argument("--frames", type=int, default=500_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-rss-mb", type=float, default=256)
    parser.add_argument("--seconds", type=float, default=1200, help="stop sending after this long")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    started = time.time()
    sent = 0
    peak = resident_mb(args.pid)
    connections = 0
    refused = 0
    while sent < args.frames and time.time() - started < args.seconds:
        try:
            connection = socket.create_connection(("127.0.0.1", args.port), timeout=5)
        except OSError:
            refused += 1
            time.sleep(0.01)
            continue
        connections += 1
        connection.settimeout(0.5)
        reads = rng.random() < 0.7
        for _ in range(rng.randrange(1, 2000)):
            try:
                connection.sendall(frame(rng))
            except OSError:
                break  # the server closed it, or pushed back on a client that never reads
            sent += 1
            if reads:
                try:
                    connection.setblocking(False)
                    while connection.recv(1 << 16):
                        pass
                except (BlockingIOError, OSError):
                    pass
                finally:
                    connection.settimeout(0.5)
            if sent % 2000 == 0:
                peak = max(peak, resident_mb(args.pid))
                if peak > args.max_rss_mb:
                    print(f"fuzz-iiod: FAILED: resident set {peak:.0f} MB after {sent} frames (limit {args.max_rss_mb:.0f} MB)")
                    return 1
                if time.time() - started > 5 and sent % 50000 == 0:
                    print(f"fuzz-iiod: {sent} frames, {connections} connections, peak resident {peak:.0f} MB", file=sys.stderr)
            if sent >= args.frames:
                break
        if rng.random() < 0.5:
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # reset
        connection.close()
    peak = max(peak, resident_mb(args.pid))
    info = subprocess.run(["timeout", "20", "iio_info", "-u", f"ip:127.0.0.1:{args.port}"], capture_output=True, text=True)
    ok = info.returncode == 0 and "ring-control" in info.stdout and peak <= args.max_rss_mb
    print(f"fuzz-iiod: {sent} frames over {connections} connections in {time.time() - started:.0f} s; "
          f"peak resident set {peak:.0f} MB (limit {args.max_rss_mb:.0f}); iio_info afterwards: "
          f"{'ok' if info.returncode == 0 else 'FAILED ' + info.stderr.strip()[:200]}")
    return 0 if ok else 1

if __name__ == "__main__":
    sys.exit(main())
