#!/usr/bin/env python3
"""Tunes a training command on a validation split carved from the training split
(`--validation`): runs every combination of a grid for seeds 1-3 and prints (and writes as
JSON) the mean ± std of the validation accuracy per combination. The test split is never
evaluated, so defaults chosen from these tables are not fitted to it.

    make build && tools/tune.py "train ring --task digits --perturb drive" \\
        --grid device-seconds=100,300 sigma-multiple=4,13,40 lr=0.003,0.01 [--jobs 2] [--out F]
    tools/tune.py "train mlp --task digits --mode pgt --budget 200000" --grid beta1=0.9,0.95 --jobs 1

Each grid entry is an option of the command without its dashes and a comma-separated list of
values (a flag: option=on). Everything is seeded: a rerun on one machine gives the same figures.
MLP runs use two threads each; run them with --jobs 1.
"""

import argparse
import concurrent.futures
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILT = os.path.join(ROOT, ".build", "release", "ringlab")


def run(binary, arguments):
    result = subprocess.run([binary] + arguments + ["--json"], cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"tune: `ringlab {' '.join(arguments)}` failed:\n{result.stderr}")
    return json.loads(result.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", help="the ringlab command and its fixed options, as one string")
    parser.add_argument("--grid", nargs="*", default=[], help="option=v1,v2,... (option without its dashes)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out")
    options = parser.parse_args()

    axes = []
    for entry in options.grid:
        name, _, values = entry.partition("=")
        if not values:
            sys.exit(f"tune: --grid entry {entry!r}: expected option=v1,v2,...")
        axes.append([(name, value) for value in values.split(",")])
    combinations = list(itertools.product(*axes)) if axes else [()]
    binary = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"ringlab-tune-{os.getpid()}")
    shutil.copy(BUILT, binary)
    # The committed calibration only: an empty state folder of the tuning's own.
    os.environ["RINGLAB_STATE"] = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"ringlab-tune-state-{os.getpid()}")

    jobs = []
    for combination in combinations:
        for seed in options.seeds:
            arguments = options.command.split() + ["--validation", "--seed", str(seed)]
            for name, value in combination:
                arguments += [f"--{name}"] + ([] if value == "on" else [value])
            jobs.append((combination, seed, arguments))
    results = {}
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=options.jobs) as pool:
            futures = {pool.submit(run, binary, job[2]): job for job in jobs}
            for done, future in enumerate(concurrent.futures.as_completed(futures), start=1):
                combination, seed, arguments = futures[future]
                summary = future.result()
                results.setdefault(combination, []).append((seed, summary))
                print(f"tune {done}/{len(jobs)}: {' '.join(arguments)} → {summary['test_accuracy']:.4f}",
                      file=sys.stderr)
    finally:
        os.remove(binary)

    names = [name for name, _ in combinations[0]]
    print(f"`ringlab {options.command} --validation`, seeds {' / '.join(map(str, options.seeds))}:")
    print()
    print(f"| {' | '.join(names) or 'defaults'} | validation accuracy | mean ± std | σ |")
    print("|" + "---|" * (max(len(names), 1) + 3))
    table = []
    for combination in combinations:
        runs = sorted(results[combination], key=lambda entry: entry[0])
        accuracies = [summary["test_accuracy"] for _, summary in runs]
        mean = statistics.mean(accuracies)
        spread = statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
        sigmas = [summary.get("sigma") for _, summary in runs]
        label = " | ".join(value for _, value in combination) if combination else "—"
        sigma_text = " / ".join(f"{s:.3g}" for s in sigmas) if all(s is not None for s in sigmas) else ""
        print(f"| {label} | {' / '.join(f'{a:.3f}' for a in accuracies)} | {mean:.4f} ± {spread:.4f} | {sigma_text} |")
        table.append({"options": dict(combination), "seeds": options.seeds, "validation_accuracy": accuracies,
                      "mean": mean, "std": spread, "sigma": sigmas})
    if options.out:
        with open(options.out + ".tmp", "w") as file:
            json.dump({"command": options.command, "rows": table}, file, indent=1)
        os.replace(options.out + ".tmp", options.out)


if __name__ == "__main__":
    main()
