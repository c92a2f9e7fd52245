#!/usr/bin/env python3
"""Generates MNIST-1D (Greydanus 2020) into data/ with the `mnist1d` package's default
arguments (5,000 signals of 40 samples, seed 42, 4,000 train / 1,000 test) and writes the
CSVs' SHA-256 digests beside them.

    python3 tools/mnist1d_generate.py [--out data]    # writes the CSVs and mnist1d.sha256
    python3 tools/mnist1d_generate.py --check         # regenerates into a temporary folder and
                                                      # compares with the committed digests

The package comes from PyPI (Apache-2.0) and is installed with pip if missing; it imports
matplotlib, which the Agg backend keeps off any display. Values are written with 6 decimals
(the generator's own noise is 2e-2), so a CPU's last-ulp differences in NumPy or SciPy cannot
change a file.
"""
import argparse
import hashlib
import os
import subprocess
import sys
import tempfile

FILES = ("mnist1d-train.csv", "mnist1d-test.csv")


def ensure_package():
    try:
        import mnist1d  # noqa: F401
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "mnist1d==0.0.2.post1"], check=True)


def generate(folder):
    os.environ.setdefault("MPLBACKEND", "Agg")
    ensure_package()
    from mnist1d.data import get_dataset_args, make_dataset

    data = make_dataset(get_dataset_args())
    header = ",".join([f"x{i}" for i in range(data["x"].shape[1])] + ["label"])
    for name, xs, ys in ((FILES[0], data["x"], data["y"]), (FILES[1], data["x_test"], data["y_test"])):
        lines = [header] + [",".join(f"{v:.6f}" for v in x) + f",{int(y)}" for x, y in zip(xs, ys)]
        text = "\n".join(lines) + "\n"
        # "-0.000000" and "0.000000" are the same number; write one of them.
        text = text.replace("-0.000000", "0.000000")
        with open(os.path.join(folder, name) + ".tmp", "w") as handle:
            handle.write(text)
        os.replace(os.path.join(folder, name) + ".tmp", os.path.join(folder, name))
    return digests(folder)


def digests(folder):
    result = {}
    for name in FILES:
        with open(os.path.join(folder, name), "rb") as handle:
            result[name] = hashlib.sha256(handle.read()).hexdigest()
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "data"))
    parser.add_argument("--check", action="store_true", help="regenerate and compare with the committed digests")
    arguments = parser.parse_args()
    digest_file = os.path.join(arguments.out, "mnist1d.sha256")
    if arguments.check:
        with tempfile.TemporaryDirectory() as folder:
            fresh = generate(folder)
        committed = {}
        with open(digest_file) as handle:
            for line in handle:
                digest, name = line.split()
                committed[name] = digest
        for name in FILES:
            if committed.get(name) != fresh[name]:
                print(f"mnist1d: {name}: generated {fresh[name]}, committed {committed.get(name)} ({digest_file})")
                sys.exit(1)
        print("mnist1d: the generator's output matches the committed digests: " + ", ".join(
            f"{name} {fresh[name][:16]}…" for name in FILES))
        return
    fresh = generate(arguments.out)
    with open(digest_file, "w") as handle:
        for name in FILES:
            handle.write(f"{fresh[name]}  {name}\n")
    for name in FILES:
        print(f"{fresh[name]}  {name}")


if __name__ == "__main__":
    main()
