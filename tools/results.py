#!/usr/bin/env python3
"""Regenerates docs/results.md: runs the acceptance commands of issues 4, 6, 14 and 16 with the
release build and writes their figures, with the commands that produced them.

    make build && tools/results.py [--jobs 2] [--only ring|mlp|transformer] [--out docs/results.md]

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


def mean_std(values, digits=3):
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.{digits}f} ± {spread:.{digits}f}"


def metric(summary):
    return summary.get("test_accuracy", summary.get("test_nrmse"))


def cell(group):
    """A table cell: mean ± std of the runs' test figure, the runs' own after it."""
    values = [metric(r[0]) for r in group]
    return f"{mean_std(values)} ({' / '.join(f'{v:.3f}' for v in values)})"


DEVICE_SECONDS = [100, 300, 1000]


def ring_section(jobs):
    """Issue 14's table: test accuracy against the device seconds of training."""
    lines = ["## The ring model against device time (issues 6 and 14)", ""]
    lines.append(
        "What a ring run costs on hardware is device time: every sample streamed takes its drive period "
        "(1 ms at the defaults: N = 50 nodes × 4 samples at 200 kHz). Each cell is the mean ± std of the "
        "test accuracy (NRMSE for NARMA10, lower is better) over seeds 1 / 2 / 3, the three runs in brackets; "
        "columns are the training device seconds given as `--device-seconds` (σ calibration included; the "
        "test-split evaluations come on top and are reported apart as `device_seconds_evaluation`). "
        "*readout* is the fixed random mask with ridge readouts (its one pass over the training split is "
        "its whole training); *parameters* is pgt-hybrid perturbing the parameters of a one-layer "
        "pre-layer (features → N drives); *drive* perturbs the N drives and takes the gradient of its "
        "pre-layer (features → 256 tanh units → N drives) by the chain rule (docs/pgt.md), on noisy copies of "
        "the training inputs in runs longer than 300 s (σ_x 0.3 at 1,000 s; docs/pgt.md, \"Noisy inputs\"); "
        "*static-curve* is the ceiling of that model: pre-layer and readout trained offline by backprop through the "
        "calibrated static transfer curve (on inputs as noisy as at 1,000 s), then streamed through the noisy "
        "twin. Each strategy runs its "
        "own defaults, chosen on a validation split. "
        "Default twin (in-process, lock-step) and its committed calibration unless the row says otherwise."
    )
    lines.append("")
    commands = []

    def runs(arguments, label, seeds=SEEDS, seed_flag="--seed", extra=lambda seed: []):
        group = run_all([arguments + [seed_flag, str(seed)] + extra(seed) for seed in seeds], jobs, label)
        commands.extend(entry[1] for entry in group)
        return group

    def device_row(task, nodes, strategies, seconds_list, label, extra=lambda seed: [], seeds=SEEDS, ceiling=False):
        """The rows of one task: readout, each strategy at each device time, the ceiling; all
        their runs in one pool, so that both cores stay busy."""
        base = ["train", "ring", "--task", task] + (["--nodes", str(nodes)] if nodes != 50 else [])
        groups = [("readout", base + ["--mode", "readout"])]
        groups += [((strategy, seconds), base + ["--perturb", strategy, "--device-seconds", str(seconds)])
                   for strategy in strategies for seconds in seconds_list]
        if ceiling:
            groups.append(("static-curve", base + ["--mode", "static-curve"]))
        lists = [arguments + ["--seed", str(seed)] + extra(seed) for _, arguments in groups for seed in seeds]
        done = run_all(lists, jobs, label)
        commands.extend(entry[1] for entry in done)
        by_group = {key: done[index * len(seeds):(index + 1) * len(seeds)] for index, (key, _) in enumerate(groups)}
        readout = by_group["readout"]
        rows = [f"| {label} | readout | {cell(readout)} at {statistics.mean(r[0]['device_seconds_training'] for r in readout):.1f} s |"
                + " |" * (len(seconds_list) - 1)]
        for strategy in strategies:
            rows.append(f"| {label} | {strategy} | "
                        + " | ".join(cell(by_group[(strategy, seconds)]) for seconds in seconds_list) + " |")
        if ceiling:
            rows.append(f"| {label} | static-curve (ceiling) | {cell(by_group['static-curve'])} with no training on the device |"
                        + " |" * (len(seconds_list) - 1))
        return rows

    header = "| task | training | " + " | ".join(f"{seconds} s" for seconds in DEVICE_SECONDS) + " |"
    rule = "|---|---|" + "---|" * len(DEVICE_SECONDS)
    lines += ["### Digits", "", header, rule]
    lines += device_row("digits", 50, ["parameters", "drive"], DEVICE_SECONDS, "digits, N = 50", ceiling=True)
    lines += device_row("digits", 100, ["parameters", "drive"], DEVICE_SECONDS, "digits, N = 100", ceiling=True)
    lines.append("")

    # The defaults as a user gets them: no budget, no strategy given.
    default = runs(["train", "ring", "--task", "digits"], "digits default")
    lines.append(
        f"`ringlab train ring --task digits` with its defaults ({default[0][0]['mode']}, "
        f"{default[0][0]['forward_passes']:,} passes, {statistics.mean(r[0]['device_seconds_training'] for r in default):.0f} "
        f"device seconds of training): {cell(default)}; wall time {statistics.mean(r[0]['seconds'] for r in default):.0f} s a run "
        f"on the lock-step twin.")
    lines.append("")

    lines += ["### Randomized twins", ""]
    lines.append(
        "Twins 1, 2 and 3 drawn by `--randomize` (latency, offsets, gains, attenuator curve and noise moved; "
        "docs/ring-twin.md), each calibrated first (`ringlab calibrate --randomize K`) and trained at its own "
        "operating point; run K on twin K with seed K.")
    lines.append("")
    for twin in SEEDS:
        result = subprocess.run([RINGLAB, "calibrate", "--randomize", str(twin), "--json"], cwd=ROOT,
                                capture_output=True, text=True, check=False)
        if result.returncode != 0:
            sys.exit(f"results: ringlab calibrate --randomize {twin} failed:\n{result.stderr}")
        commands.append(f"ringlab calibrate --randomize {twin} --json")
    twin_seconds = DEVICE_SECONDS[:2]
    lines += ["| task | training | " + " | ".join(f"{seconds} s" for seconds in twin_seconds) + " |",
              "|---|---|" + "---|" * len(twin_seconds)]
    lines += device_row("digits", 50, ["parameters", "drive"], twin_seconds, "digits, N = 50, twins 1–3",
                        extra=lambda seed: ["--randomize", str(seed)], ceiling=True)
    lines.append("")

    lines += ["### Sequences", ""]
    lines.append(
        "Sine/square classification and NARMA10 read out at every step of one input sequence; the loop's "
        "feedback is their memory. Drive-space perturbation does not apply (refused): a window has one loss, "
        "not one per sample, and its drives (rows × N = 2,400 for a window of 48) outnumber the pre-layer's "
        "100 parameters, so perturbing them estimates more from the same single difference. 1,000 s is left "
        "out here to keep the regeneration short (a sequence pass streams more slowly on the twin).")
    lines.append("")
    sequence_seconds = DEVICE_SECONDS[:2]
    lines += ["| task | training | " + " | ".join(f"{seconds} s" for seconds in sequence_seconds) + " |",
              "|---|---|" + "---|" * len(sequence_seconds)]
    lines += device_row("sine-square", 50, ["parameters"], sequence_seconds, "sine-square")
    lines += device_row("narma10", 50, ["parameters"], sequence_seconds, "narma10 (NRMSE)")
    lines.append("")
    sine_default = runs(["train", "ring", "--task", "sine-square"], "sine-square default")
    lines.append(
        f"Sine-square at the defaults ({sine_default[0][0]['forward_passes']:,} passes, "
        f"{statistics.mean(r[0]['device_seconds_training'] for r in sine_default):.0f} device seconds; target ≥ 0.97): "
        f"{cell(sine_default)}.")
    lines += ["", "Commands:", "", "```"] + commands + ["```", ""]
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


# Issue 16's table: (model, training, reservoir, reference from the issue's PyTorch check,
# arguments of `ringlab train transformer`). The ring rows run with their own budget (RING_BUDGET).
TRANSFORMER_ROWS = [
    ("transformer, 1 block", "backprop", "none (ordinary FFN)", "0.860", ["--reservoir", "none", "--mode", "backprop"]),
    ("transformer, 1 block", "backprop through the reservoir", "digital", "0.844",
     ["--reservoir", "digital", "--mode", "backprop"]),
    ("transformer, 1 block", "reservoir frozen, downstream only", "digital", "0.373",
     ["--reservoir", "digital", "--mode", "readout"]),
    ("transformer, 1 block", "PGT upstream + exact downstream", "digital", "",
     ["--reservoir", "digital", "--mode", "pgt-hybrid"]),
    ("transformer, 1 block", "reservoir frozen, downstream only", "ring (twin)", "",
     ["--reservoir", "ring", "--mode", "readout"]),
    ("transformer, 1 block", "PGT upstream + exact downstream", "ring (twin)", "",
     ["--reservoir", "ring", "--mode", "pgt-hybrid"]),
    ("transformer, 2 blocks", "backprop", "none (ordinary FFN)", "0.879",
     ["--blocks", "2", "--reservoir", "none", "--mode", "backprop"]),
    ("transformer, 2 blocks", "backprop through the reservoir (block 1)", "digital", "0.863",
     ["--blocks", "2", "--reservoir", "digital", "--mode", "backprop"]),
    ("transformer, 2 blocks", "reservoir frozen, downstream only", "digital", "0.802",
     ["--blocks", "2", "--reservoir", "digital", "--mode", "readout"]),
    ("transformer, 2 blocks", "PGT upstream + exact downstream", "digital", "",
     ["--blocks", "2", "--reservoir", "digital", "--mode", "pgt-hybrid"]),
]
MLP_ROWS = [
    # The reference's recipe: PyTorch's layer initialization, Adam 2e-3 cosine, batch 128, 150 epochs.
    ("MLP 40-100-100-10", "backprop", "—", "0.672",
     ["train", "mlp", "--task", "mnist1d", "--hidden", "100,100", "--initialization", "fan-in", "--mode", "backprop",
      "--batch", "128", "--schedule", "cosine", "--budget", "9376"]),
    ("MLP 40-100-100-10", "PGT", "—", "",
     ["train", "mlp", "--task", "mnist1d", "--hidden", "100,100", "--initialization", "fan-in", "--mode", "pgt",
      "--budget", "50000"]),
]


def transformer_section(jobs):
    """Issue 16's table: the transformer with a reservoir layer on MNIST-1D."""
    lines = ["## The transformer with a reservoir layer (MNIST-1D, issue 16)", ""]
    lines.append(
        "`ringlab train transformer --task mnist1d` at its defaults (d = 32, 10 tokens of 4 samples, 4 heads, "
        "pre-LN, FFN 32→64→32, digital reservoir 32→128→32 tanh, PyTorch's layer initialization, Adam 2e-3 cosine with "
        "weight decay 1 on the weight matrices (readout: none, and Adam 1e-2), batch 128; 150 epochs, 300 for PGT on the digital reservoir, 60 on the ring; docs/transformer.md). Test accuracy on the 1,000 test signals, seeds 1 / 2 / 3: "
        "mean ± std (the runs). Forward passes count 2 per step in every mode; device seconds are the ring's "
        "training drive (the measurements on both splits excluded). The reference is the issue's PyTorch check.")
    lines.append("")
    lines += ["| model | training | reservoir | accuracy | reference | forward passes | wall time per run | device seconds |",
              "|---|---|---|---|---|---|---|---|"]
    commands = []
    arguments = []
    for row in TRANSFORMER_ROWS:
        arguments += [["train", "transformer", "--task", "mnist1d"] + row[4] + ["--seed", str(seed)] for seed in SEEDS]
    for row in MLP_ROWS:
        arguments += [row[4] + ["--seed", str(seed)] for seed in SEEDS]
    results = run_all(arguments, jobs, "transformer")
    for index, row in enumerate(TRANSFORMER_ROWS + MLP_ROWS):
        group = results[3 * index:3 * index + 3]
        commands += [entry[1] for entry in group]
        device = [r[0].get("device_seconds_training") for r in group]
        device_cell = f"{statistics.mean(device):,.0f} s" if all(d is not None for d in device) else ""
        lines.append(
            f"| {row[0]} | {row[1]} | {row[2]} | {cell(group)} | {row[3]} | {group[0][0]['forward_passes']:,} | "
            f"{statistics.mean(r[0]['seconds'] for r in group):.0f} s | {device_cell} |")
    lines += ["", "Commands:", "", "```"] + commands + ["```", ""]
    return lines


def kept_sections(path):
    """The sections of an earlier results file, by name ("ring", "mlp"), each headed by the line
    saying which commit it was regenerated at."""
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as handle:
        text = handle.read().split("\n")
    stamp = next((line for line in text if line.startswith("Regenerated by")), "")
    commit = stamp.split("from commit ")[1].split(",")[0] if "from commit " in stamp else "unknown"
    sections, name = {}, None
    kept_stamp = "(This section as regenerated at commit "
    for line in text:
        if line.startswith("## "):
            name = ("ring" if "ring model" in line else "mlp" if "digital network" in line
                    else "transformer" if "transformer" in line else None)
            if name:
                sections[name] = [line, "", f"{kept_stamp}{commit}.)"]
                continue
        if line.startswith("(The whole regeneration took"):
            name = None
        if name and line.startswith(kept_stamp):
            # A section kept once already keeps the commit it was regenerated at (and the blank
            # line between its heading and stamp once, not once per regeneration).
            sections[name] = sections[name][:2] + [line]
            continue
        if name:
            sections[name].append(line)
    return sections


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2, help="ring runs at once (default 2)")
    parser.add_argument("--only", choices=["ring", "mlp", "transformer"],
                        help="regenerate one section; the other is kept from the file as it is, with the commit it says")
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
    kept = kept_sections(options.out) if options.only else {}
    if options.only in (None, "ring"):
        lines += ring_section(options.jobs)
    else:
        lines += kept.get("ring", [])
    if options.only in (None, "mlp"):
        lines += mlp_section()
    else:
        lines += kept.get("mlp", [])
    if options.only in (None, "transformer"):
        lines += transformer_section(options.jobs)
    else:
        lines += kept.get("transformer", [])
    lines.append(f"(The whole regeneration took {(time.monotonic() - started) / 60:.1f} minutes.)")
    temporary = options.out + ".tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    os.replace(temporary, options.out)
    os.remove(RINGLAB)
    print(f"results: wrote {options.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
