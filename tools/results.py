#!/usr/bin/env python3
"""Regenerates docs/results.md: runs the acceptance commands of issues 4 and 6 with the release
build and writes their figures, with the commands that produced them.

    make build && tools/results.py [--jobs 2] [--only ring|mlp] [--out docs/results.md]

Ring runs are single-threaded (the twin in lock-step), so --jobs runs that many at once; MLP
runs use two threads each and run one at a time. Everything is seeded: a rerun on any machine
gives the same accuracies (wall times differ). Takes about 35 minutes on two cores.
"""

import argparse
import concurrent.futures
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILT = os.path.join(ROOT, ".build", "release", "ringlab")
# A private copy, so that a rebuild during the half hour of runs cannot change the binary.
RINGLAB = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"ringlab-results-{os.getpid()}")
# Runs read the committed calibration only: an empty state folder of their own.
os.environ["RINGLAB_STATE"] = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"ringlab-results-state-{os.getpid()}")
SEEDS = [1, 2, 3]


def run(arguments):
    """Runs `ringlab ARGUMENTS --json` in the package root; returns (summary, command, seconds)."""
    command = ["ringlab"] + arguments + ["--json"]
    started = time.monotonic()
    result = subprocess.run(
        [RINGLAB] + arguments + ["--json"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    seconds = time.monotonic() - started
    if result.returncode != 0:
        sys.exit(f"results: `{' '.join(command)}` failed:\n{result.stderr}")
    return json.loads(result.stdout), " ".join(command), seconds


def run_all(argument_lists, jobs, label):
    """Runs each argument list (in parallel up to `jobs`), printing progress on stderr."""
    results = [None] * len(argument_lists)
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(run, arguments): index for index, arguments in enumerate(argument_lists)}
        for done, future in enumerate(concurrent.futures.as_completed(futures), start=1):
            index = futures[future]
            results[index] = future.result()
            print(f"results: {label} {done}/{len(argument_lists)}: {results[index][1]}", file=sys.stderr)
    return results


def fmt(values, digits=3):
    return " / ".join(f"{value:.{digits}f}" for value in values) + f" (mean {statistics.mean(values):.{digits}f})"


def ring_section(jobs):
    lines = ["## The ring model (issue 6)", ""]
    lines.append(
        "Default twin (in-process, lock-step), its committed calibration, N = 50 virtual nodes. "
        "Test accuracy (NRMSE for NARMA10), seeds 1 / 2 / 3."
    )
    lines.append("")
    hybrid = run_all(
        [["train", "ring", "--task", "digits", "--mode", "pgt-hybrid", "--budget", "50000",
          "--batch", "32", "--seed", str(seed)] for seed in SEEDS], jobs, "ring digits pgt-hybrid")
    readout = run_all(
        [["train", "ring", "--task", "digits", "--mode", "readout", "--seed", str(seed)]
         for seed in SEEDS], jobs, "ring digits readout")
    hybrid100 = run_all(
        [["train", "ring", "--task", "digits", "--mode", "pgt-hybrid", "--budget", "50000",
          "--batch", "32", "--nodes", "100", "--seed", str(seed)] for seed in SEEDS], jobs, "ring digits N=100")
    readout100 = run_all(
        [["train", "ring", "--task", "digits", "--mode", "readout", "--nodes", "100", "--seed", str(seed)]
         for seed in SEEDS], jobs, "ring digits readout N=100")
    sine = run_all(
        [["train", "ring", "--task", "sine-square", "--mode", "pgt-hybrid", "--seed", str(seed)]
         for seed in SEEDS], jobs, "ring sine-square")
    sine_readout = run_all(
        [["train", "ring", "--task", "sine-square", "--mode", "readout", "--seed", str(seed)]
         for seed in SEEDS], jobs, "ring sine-square readout")
    narma = run_all(
        [["train", "ring", "--task", "narma10", "--mode", "pgt-hybrid", "--budget", "4000",
          "--seed", str(seed)] for seed in SEEDS], jobs, "ring narma10")
    narma_readout = run_all(
        [["train", "ring", "--task", "narma10", "--mode", "readout", "--seed", str(seed)]
         for seed in SEEDS], jobs, "ring narma10 readout")

    hybrid_accuracy = [r[0]["test_accuracy"] for r in hybrid]
    readout_accuracy = [r[0]["test_accuracy"] for r in readout]
    gap = 100 * (statistics.mean(hybrid_accuracy) - statistics.mean(readout_accuracy))
    lines += [
        "| task | mode | forward passes | result | target | wall time per run |",
        "|---|---|---|---|---|---|",
        f"| digits | pgt-hybrid, batch 32 | {hybrid[0][0]['forward_passes']} | {fmt(hybrid_accuracy)} | ≥ 0.95 "
        f"| {statistics.mean(r[0]['seconds'] for r in hybrid):.0f} s |",
        f"| digits | readout (fixed mask, ridge) | {readout[0][0]['samples_streamed']} samples | {fmt(readout_accuracy)} "
        f"| pgt-hybrid ≥ 2 points above (here {gap:+.1f}) | {statistics.mean(r[0]['seconds'] for r in readout):.0f} s |",
        f"| digits, N = 100 | pgt-hybrid, batch 32 | {hybrid100[0][0]['forward_passes']} | "
        f"{fmt([r[0]['test_accuracy'] for r in hybrid100])} | | {statistics.mean(r[0]['seconds'] for r in hybrid100):.0f} s |",
        f"| digits, N = 100 | readout | {readout100[0][0]['samples_streamed']} samples | "
        f"{fmt([r[0]['test_accuracy'] for r in readout100])} | | {statistics.mean(r[0]['seconds'] for r in readout100):.0f} s |",
        f"| sine-square | pgt-hybrid (η = 2.4) | {sine[0][0]['forward_passes']} | "
        f"{fmt([r[0]['test_accuracy'] for r in sine])} | ≥ 0.97 | {statistics.mean(r[0]['seconds'] for r in sine):.0f} s |",
        f"| sine-square | readout | {sine_readout[0][0]['samples_streamed']} samples | {fmt([r[0]['test_accuracy'] for r in sine_readout])} | | "
        f"{statistics.mean(r[0]['seconds'] for r in sine_readout):.1f} s |",
        f"| narma10 | pgt-hybrid (NRMSE) | {narma[0][0]['forward_passes']} | "
        f"{fmt([r[0]['test_nrmse'] for r in narma])} | lower is better | "
        f"{statistics.mean(r[0]['seconds'] for r in narma):.0f} s |",
        f"| narma10 | readout (NRMSE) | {narma_readout[0][0]['samples_streamed']} samples | {fmt([r[0]['test_nrmse'] for r in narma_readout])} | | "
        f"{statistics.mean(r[0]['seconds'] for r in narma_readout):.1f} s |",
        "",
        "Converter utilization (streamed evaluation time ÷ streamed time plus host gaps, as if paced), "
        f"digits pgt-hybrid: {fmt([r[0]['converter_utilization'] for r in hybrid])}. "
        f"σ calibrated on the board: {fmt([r[0]['sigma'] for r in hybrid], 4)} drive units.",
        "",
        "Commands:",
        "",
        "```",
    ]
    for group in (hybrid, readout, hybrid100, readout100, sine, sine_readout, narma, narma_readout):
        lines += [entry[1] for entry in group]
    lines += ["```", ""]
    return lines


def mlp_section():
    lines = ["## The digital network (MLP, issue 4)", ""]
    lines.append("Digits, 64-40-10 tanh, `ringlab train mlp` defaults. Test accuracy, seeds 1 / 2 / 3.")
    lines.append("")
    lines += ["| budget | mode | result | target | wall time per run |", "|---|---|---|---|---|"]
    commands = []
    targets = {(10_000, "pgt"): "≥ 0.950", (50_000, "pgt"): "≥ 0.965", (200_000, "pgt"): "≥ 0.972"}
    for budget in (10_000, 50_000, 200_000):
        modes = ["pgt", "spsa"] + (["backprop"] if budget == 200_000 else [])
        for mode in modes:
            group = run_all(
                [["train", "mlp", "--task", "digits", "--mode", mode, "--budget", str(budget), "--seed", str(seed)]
                 for seed in SEEDS], 1, f"mlp {mode} {budget}")
            commands += [entry[1] for entry in group]
            lines.append(
                f"| {budget:,} | {mode} | {fmt([r[0]['test_accuracy'] for r in group])} | "
                f"{targets.get((budget, mode), '')} | {statistics.mean(r[0]['seconds'] for r in group):.1f} s |")
    lines += ["", "Commands:", "", "```"] + commands + ["```", ""]
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2, help="ring runs at once (default 2)")
    parser.add_argument("--only", choices=["ring", "mlp"], help="regenerate one section (the other is dropped)")
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "results.md"))
    options = parser.parse_args()
    if not os.access(BUILT, os.X_OK):
        sys.exit(f"results: {BUILT} is missing; run `make build` first")
    shutil.copy2(BUILT, RINGLAB)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    started = time.monotonic()
    lines = [
        "# Results",
        "",
        f"Regenerated by `tools/results.py` on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC "
        f"from commit {commit.stdout.strip() or 'unknown'}, {os.cpu_count()} cores. Every figure below comes "
        "from the command listed under its table; all runs are seeded, so the accuracies reproduce exactly.",
        "",
    ]
    if options.only in (None, "ring"):
        lines += ring_section(options.jobs)
    if options.only in (None, "mlp"):
        lines += mlp_section()
    lines.append(f"(The whole regeneration took {(time.monotonic() - started) / 60:.1f} minutes.)")
    temporary = options.out + ".tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    os.replace(temporary, options.out)
    os.remove(RINGLAB)
    print(f"results: wrote {options.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
