#!/usr/bin/env python3
"""Tunes ring training on a validation split carved from the training split (`--validation`):
runs every combination of a grid at each device-time budget for seeds 1-3, and prints (and
writes as JSON) the mean ± std of the validation accuracy per combination. The test split is
never evaluated.

    make build && tools/tune-ring.py --perturb drive --seconds 100 300 \\
        --grid sigma-multiple=4,13,40 lr=0.003,0.01 [--jobs 2] [--out tuning.json]

Each grid entry is an option of `ringlab train ring` without its dashes and a comma-separated
list of values. Everything is seeded: a rerun on one machine gives the same figures.
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
        sys.exit(f"tune-ring: `ringlab {' '.join(arguments)}` failed:\n{result.stderr}")
    return json.loads(result.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--perturb", default="drive", choices=["drive", "parameters"])
    parser.add_argument("--seconds", type=float, nargs="+", default=[100, 300])
    parser.add_argument("--grid", nargs="*", default=[], help="option=v1,v2,... (option without its dashes)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--extra", default="", help="further options for every run, space-separated")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out")
    options = parser.parse_args()

    axes = []
    for entry in options.grid:
        name, _, values = entry.partition("=")
        if not values:
            sys.exit(f"tune-ring: --grid entry {entry!r}: expected option=v1,v2,...")
        axes.append([(name, value) for value in values.split(",")])
    combinations = list(itertools.product(*axes)) if axes else [()]
    binary = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"ringlab-tune-{os.getpid()}")
    shutil.copy(BUILT, binary)
    os.environ["RINGLAB_STATE"] = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"ringlab-tune-state-{os.getpid()}")

    jobs = []
    for seconds in options.seconds:
        for combination in combinations:
            for seed in options.seeds:
                arguments = ["train", "ring", "--task", "digits", "--validation", "--perturb", options.perturb,
                             "--device-seconds", f"{seconds:g}", "--seed", str(seed)]
                arguments += options.extra.split()
                for name, value in combination:
                    arguments += [f"--{name}", value]
                jobs.append((seconds, combination, seed, arguments))
    results = {}
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=options.jobs) as pool:
            futures = {pool.submit(run, binary, job[3]): job for job in jobs}
            for done, future in enumerate(concurrent.futures.as_completed(futures), start=1):
                seconds, combination, seed, arguments = futures[future]
                summary = future.result()
                results.setdefault((seconds, combination), []).append((seed, summary))
                print(f"tune-ring {done}/{len(jobs)}: {' '.join(arguments)} → {summary['test_accuracy']:.4f}",
                      file=sys.stderr)
    finally:
        os.remove(binary)

    table = []
    print(f"| device s | {' | '.join(name for name, _ in combinations[0]) if combinations[0] else 'defaults'} "
          f"| validation accuracy, seeds {'/'.join(map(str, options.seeds))} | mean ± std | σ |")
    print("|---|---|---|---|---|")
    for (seconds, combination), runs in sorted(results.items(), key=lambda item: (item[0][0], item[0][1])):
        runs.sort()
        accuracies = [summary["test_accuracy"] for _, summary in runs]
        mean = statistics.mean(accuracies)
        spread = statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
        sigmas = [summary.get("sigma") or 0 for _, summary in runs]
        label = " | ".join(value for _, value in combination) if combination else "—"
        print(f"| {seconds:g} | {label} | {' / '.join(f'{a:.3f}' for a in accuracies)} | {mean:.4f} ± {spread:.4f} "
              f"| {' / '.join(f'{s:.3g}' for s in sigmas)} |")
        table.append({"device_seconds": seconds, "options": dict(combination), "seeds": options.seeds,
                      "validation_accuracy": accuracies, "mean": mean, "std": spread, "sigma": sigmas})
    if options.out:
        with open(options.out + ".tmp", "w") as file:
            json.dump({"perturb": options.perturb, "extra": options.extra, "rows": table}, file, indent=1)
        os.replace(options.out + ".tmp", options.out)


if __name__ == "__main__":
    main()
