#!/usr/bin/env python3
"""Records real libiio client sessions as fuzz corpus files.

Starts a TCP proxy on 127.0.0.1 in front of an iiod server (--port PORT), runs libiio's own
tools through it (iio_info, iio_attr reads and writes, iio_readdev, iio_writedev, cyclic
iio_writedev -c), and writes what each client connection sent, one file per connection, into
--out. Each file starts with one byte (the piece size the fuzz target feeds the session in).

    tools/serve-and-run.sh "" python3 tools/record-iiod-corpus.py --out Tests/Fuzz/corpus
"""
import argparse, os, signal, socket, subprocess, threading, time

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pid", type=int, help="unused (serve-and-run passes it)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    proxy_port = listener.getsockname()[1]
    recordings = []

    def pump(source, sink, record):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if record is not None:
                    record.extend(data)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            try:
                sink.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def accept():
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", args.port))
            record = bytearray()
            recordings.append(record)
            threading.Thread(target=pump, args=(client, server, record), daemon=True).start()
            threading.Thread(target=pump, args=(server, client, None), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    uri = f"ip:127.0.0.1:{proxy_port}"
    runs = [
        (["iio_info", "-u", uri], None),
        (["iio_attr", "-u", uri, "-c", "ring-adc", "voltage0", "raw"], None),
        (["iio_attr", "-u", uri, "-o", "-c", "ring-dac", "voltage0", "raw", "40000"], None),
        (["iio_attr", "-u", uri, "-d", "ring-control", "amp_enable", "1"], None),
        (["iio_attr", "-u", uri, "-d", "ring-control", "interlock"], None),
        (["iio_readdev", "-u", uri, "-b", "64", "-s", "256", "ring-adc", "voltage0"], None),
        (["iio_writedev", "-u", uri, "-b", "16", "-s", "32", "ring-dac", "voltage0"], bytes(range(64))),
    ]
    for command, stdin in runs:
        subprocess.run(["timeout", "20"] + command, input=stdin or b"", stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
        time.sleep(0.2)
    cyclic = subprocess.Popen(["iio_writedev", "-u", uri, "-c", "-b", "32", "ring-dac", "voltage0"],
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cyclic.stdin.write(bytes(64))
    cyclic.stdin.close()
    time.sleep(0.5)
    cyclic.send_signal(signal.SIGINT)
    cyclic.wait(timeout=10)
    time.sleep(0.5)
    written = 0
    for index, record in enumerate(recordings):
        if not record:
            continue
        for piece in (255, 7):  # whole reads, and frames split across small reads
            with open(os.path.join(args.out, f"session-{index:02d}-piece-{piece}"), "wb") as out:
                out.write(bytes([piece]) + bytes(record))
            written += 1
    print(f"record-iiod-corpus: {written} corpus files from {len(recordings)} client connections in {args.out}")

if __name__ == "__main__":
    main()
