#!/usr/bin/env python3
"""Runs the training configurations that pin the training wing's behaviour (issue 13) and
records each run's summary, so that a refactor can be checked against the commit before it.

    tools/compare-training.py --ringlab BINARY --out before.json [--form old|new]
    tools/compare-training.py --compare before.json after.json

The first form runs, for seeds 1-3: the MLP on digits with pgt at 10,000 and 50,000 forward
passes and backprop at 200,000; the ring model on digits with pgt-hybrid at 5,000 passes and
readout. `--form old` spells them as the commit before issue 13 did (`train --model ring`),
`--form new` as `train mlp` / `train ring`. The second form prints both and whether each
test_accuracy is bit-identical.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

SEEDS = [1, 2, 3]
CONFIGS = {
    "mlp pgt 10000": ("mlp", ["--task", "digits", "--mode", "pgt", "--budget", "10000"]),
    "mlp pgt 50000": ("mlp", ["--task", "digits", "--mode", "pgt", "--budget", "50000"]),
    "mlp backprop 200000": ("mlp", ["--task", "digits", "--mode", "backprop", "--budget", "200000"]),
    "ring pgt-hybrid 5000": ("ring", ["--task", "digits", "--mode", "pgt-hybrid", "--budget", "5000"]),
    "ring readout": ("ring", ["--task", "digits", "--mode", "readout"]),
}


def arguments(form, model, options, seed):
    if form == "old":
        head = ["train"] + (["--model", "ring"] if model == "ring" else [])
    else:
        head = ["train", model]
    return head + options + ["--seed", str(seed), "--json"]


def run_all(binary, form):
    results = {}
    state = tempfile.mkdtemp(prefix="ringlab-compare-state-")
    environment = dict(os.environ, RINGLAB_STATE=state)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for name, (model, options) in CONFIGS.items():
        for seed in SEEDS:
            command = arguments(form, model, options, seed)
            print(f"compare: {name} seed {seed}: ringlab {' '.join(command)}", file=sys.stderr)
            result = subprocess.run([binary] + command, cwd=root, env=environment,
                                    capture_output=True, text=True, check=False)
            if result.returncode != 0:
                sys.exit(f"compare: `ringlab {' '.join(command)}` failed:\n{result.stderr}")
            summary = json.loads(result.stdout)
            results[f"{name} seed {seed}"] = {"command": "ringlab " + " ".join(command), "summary": summary}
    return results


def compare(before_path, after_path):
    before = json.load(open(before_path))
    after = json.load(open(after_path))
    identical = True
    for key in before:
        a = before[key]["summary"].get("test_accuracy")
        b = after.get(key, {}).get("summary", {}).get("test_accuracy")
        same = a == b
        identical &= same
        print(f"{key:28s} before {a!r:22s} after {b!r:22s} {'identical' if same else 'DIFFERENT'}")
    print("all identical" if identical else "some differ")
    return 0 if identical else 1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ringlab")
    parser.add_argument("--out")
    parser.add_argument("--form", choices=["old", "new"], default="new")
    parser.add_argument("--compare", nargs=2)
    options = parser.parse_args()
    if options.compare:
        sys.exit(compare(*options.compare))
    results = run_all(options.ringlab, options.form)
    with open(options.out + ".tmp", "w") as handle:
        json.dump(results, handle, indent=1)
    os.replace(options.out + ".tmp", options.out)


if __name__ == "__main__":
    main()
