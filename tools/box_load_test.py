#!/usr/bin/python3
"""The box under load: a training run on the twin and a paced drive-loop run, each once on an
idle box and once while 20 clients follow the job's Server-Sent Events (one of them reading
slowly) and wrk hammers the API. The loaded runs must keep the training run's converter
utilization within 2 points of the idle one and miss no more deadlines in the paced runs than
the machine's own noise explains (runs alternate idle and loaded; see the comment in main).

Usage: tools/box_load_test.py [--device-seconds S] [--paced-seconds S] [--paced-runs K] [--clients N]
Prints the figures; exit 0 when both hold.
"""
import argparse
import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time

from box_support import RunningBox, verdict


class Box(RunningBox):
    def __init__(self):
        super().__init__("load")
        self.throttled = 0

    def call(self, method, path, body=None):
        """One request; a 429 (the rate limit wrk trips for the whole address) is retried after
        its Retry-After, as a well-behaved client does."""
        for _ in range(120):
            # From 127.0.0.3: the rate limit is per client address, and wrk hammers from 127.0.0.1.
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60, source_address=("127.0.0.3", 0))
            headers = {"Authorization": "Bearer " + self.token, "Content-Type": "application/json"}
            connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
            response = connection.getresponse()
            data = response.read()
            connection.close()
            if response.status != 429:
                return response.status, json.loads(data or b"{}")
            self.throttled += 1
            time.sleep(float(response.getheader("Retry-After", "1")))
        sys.exit(f"box_load_test: {method} {path} stayed rate-limited for 2 minutes")

    def run(self, args, on_start=None):
        status, answer = self.call("POST", "/api/v1/jobs", {"args": args, "submitter": "load-test"})
        if status != 201:
            sys.exit(f"box_load_test: submit {args} answered {status}: {answer}")
        job = answer["id"]
        if on_start:
            on_start(job)
        while True:
            _, record = self.call("GET", f"/api/v1/jobs/{job}")
            if record["state"] not in ("queued", "running"):
                summary = record.get("summary") or {}
                # A paced run the watchdog stopped (a slow spell: no period completed in time)
                # ended safe and reported its figures; it counts as a run, not as a broken test.
                stopped_safe = summary.get("safe_reason") == "watchdog" and summary.get("final_state") == "safe"
                if record["state"] != "done" and not stopped_safe:
                    sys.exit(f"box_load_test: job {job} ended {record['state']}: {record.get('reason')}")
                return summary
            time.sleep(0.5)


def follow(box, job, slow, counts, index, stop):
    """One SSE client: reads the job's stream to its end (slowly: 1 KiB a second). Clients come
    from 127.0.0.4, another address than wrk's and the poller's, as other hosts would."""
    connection = http.client.HTTPConnection("127.0.0.1", box.port, timeout=300, source_address=("127.0.0.4", 0))
    connection.request("GET", f"/api/v1/jobs/{job}/events", headers={"Authorization": "Bearer " + box.token})
    response = connection.getresponse()
    while not stop.is_set():
        chunk = response.read1(1024) if slow else response.read1(65536)
        if not chunk:
            break
        counts[index] += chunk.count(b"event: ")
        if slow:
            time.sleep(1)
    connection.close()


class Hammer(threading.Thread):
    """wrk against the API, in 3-second rounds until stopped."""

    def __init__(self, box):
        super().__init__(daemon=True)
        self.box, self.stop, self.requests, self.seconds, self.rejected = box, threading.Event(), 0, 0.0, 0

    def run(self):
        while not self.stop.is_set():
            output = subprocess.run(
                ["wrk", "-t1", "-c16", "-d3s", "-H", "Authorization: Bearer " + self.box.token,
                 f"http://127.0.0.1:{self.box.port}/api/v1/queue"],
                capture_output=True, text=True).stdout
            done = re.search(r"(\d+) requests in ([\d.]+)s", output)
            if done:
                self.requests += int(done.group(1))
                self.seconds += float(done.group(2))
            rejected = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
            self.rejected += int(rejected.group(1)) if rejected else 0


def run_job(box, arguments, args, loaded, figures):
    """Runs one job on the box; with `loaded`, while SSE clients follow it and wrk hammers the
    API. Returns its summary."""
    stop = threading.Event()
    counts = [0] * arguments.clients
    hammer = Hammer(box)

    def start_load(job):
        if loaded:
            for index in range(arguments.clients):
                threading.Thread(target=follow, args=(box, job, index == 0, counts, index, stop), daemon=True).start()
            hammer.start()

    try:
        summary = box.run(args, start_load)
    finally:
        hammer.stop.set()
        stop.set()
    if loaded:
        hammer.join()
        figures.setdefault("api_requests", 0)
        figures["api_requests"] += hammer.requests
        figures.setdefault("api_seconds", 0.0)
        figures["api_seconds"] += hammer.seconds
        figures.setdefault("api_rate_limited", 0)
        figures["api_rate_limited"] += hammer.rejected
        figures.setdefault("sse_events_received", 0)
        figures["sse_events_received"] += sum(counts)
    return summary


def measure(box, arguments):
    """The training run idle then loaded; then the paced runs alternating idle and loaded, so
    that a slow spell of the machine falls on both."""
    idle, loaded = {"deadline_misses": [], "period_us": 1000.0}, {"deadline_misses": [], "period_us": 1000.0, "sse_clients": arguments.clients}
    training = ["train", "ring", "--task", "digits", "--device-seconds", str(arguments.device_seconds), "--seed", "1"]
    for figures, under_load in [(idle, False), (loaded, True)]:
        summary = run_job(box, arguments, training, under_load, figures)
        figures["converter_utilization"] = summary["converter_utilization"]
        figures["test_accuracy"] = summary["test_accuracy"]
    paced = ["run", "--paced", "--seconds", str(arguments.paced_seconds), "--seed", "1"]
    for pair in range(arguments.max_pairs):
        for figures, under_load in [(idle, False), (loaded, True)]:
            summary = run_job(box, arguments, paced, under_load, figures)
            figures["deadline_misses"].append(summary["deadline_misses"])
            figures.setdefault("compute_us_mean", []).append(round(summary["compute_us_mean"], 1))
            figures["period_us"] = 1e6 * summary["seconds_streamed"] / max(summary["periods"], 1)
        fastest = min(idle["compute_us_mean"] + loaded["compute_us_mean"])
        if pair + 1 >= arguments.paced_runs and all(len(normal_runs(f, fastest)) >= 2 for f in (idle, loaded)):
            break
    loaded["api_requests_per_second"] = round(loaded.pop("api_requests") / max(loaded.pop("api_seconds"), 1e-9))
    return idle, loaded


def normal_runs(figures, fastest):
    """The paced runs in which the loop computed at this machine's normal speed.

    On the shared VM this was measured on, whole processes sometimes run the loop's own work
    (measured inside its SCHED_FIFO thread, on the CPU no client uses) 20–70 times slower than
    usual — 250–950 µs a period instead of 10–15 — idle as often as loaded, and the same with
    builds from before the box existed; such a run misses most deadlines whatever else runs. A
    run counts when its compute per period is within 3× of the fastest run seen either way and
    under a tenth of the period (a loop busier than that cannot hold its deadlines idle)."""
    limit = min(3 * fastest, 0.1 * figures["period_us"])
    return [misses for misses, compute in zip(figures["deadline_misses"], figures["compute_us_mean"]) if compute <= limit]


def keep_clients_off_the_loop_cpu():
    """The clients (wrk, the SSE readers) stand for other hosts on the lab's network: they must
    not run on the box's drive-loop CPU (the last one), which on the box only the loop and the
    network's interrupts share. The box itself keeps its threads off that CPU."""
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) > 1:
        os.sched_setaffinity(0, allowed[:-1])
    return allowed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--device-seconds", type=int, default=60)
    parser.add_argument("--paced-seconds", type=int, default=5)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--paced-runs", type=int, default=3)
    parser.add_argument("--max-pairs", type=int, default=6)
    arguments = parser.parse_args()
    box = Box()  # started with every CPU, as on the box
    keep_clients_off_the_loop_cpu()
    try:
        idle, loaded = measure(box, arguments)
        print("idle:  ", json.dumps(idle, sort_keys=True))
        print("loaded:", json.dumps(loaded, sort_keys=True))
    finally:
        box.stop()
    failures = []
    drop = (idle["converter_utilization"] - loaded["converter_utilization"]) * 100
    print(f"converter utilization: idle {idle['converter_utilization']:.4f}, loaded {loaded['converter_utilization']:.4f} "
          f"({drop:+.2f} points lost; at most 2)")
    # Runs alternate idle and loaded. Only runs at the machine's normal loop speed are compared
    # (normal_runs says why); among them, the loaded runs' misses per run may exceed the idle
    # runs' by no more than the idle runs' own spread (max − min) plus 10.
    fastest = min(idle["compute_us_mean"] + loaded["compute_us_mean"])
    idle_normal, loaded_normal = normal_runs(idle, fastest), normal_runs(loaded, fastest)
    print(f"paced runs ({arguments.paced_seconds} s, {arguments.paced_seconds * 1000} periods each, alternating): "
          f"idle misses {idle['deadline_misses']} at {idle['compute_us_mean']} µs/period, "
          f"loaded misses {loaded['deadline_misses']} at {loaded['compute_us_mean']} µs/period")
    if drop > 2:
        failures.append(f"converter utilization fell by {drop:.2f} points under load")
    if len(idle_normal) < 2 or len(loaded_normal) < 2:
        print("deadline misses: NOT MEASURABLE on this machine now — fewer than 2 runs each way ran the loop at "
              "normal speed (see normal_runs); not counted as a failure, the utilization check stands")
    else:
        idle_mean = sum(idle_normal) / len(idle_normal)
        loaded_mean = sum(loaded_normal) / len(loaded_normal)
        allowance = max(idle_normal) - min(idle_normal) + 10
        print(f"deadline misses per run at normal speed: idle {idle_normal} (mean {idle_mean:.1f}), "
              f"loaded {loaded_normal} (mean {loaded_mean:.1f}); allowed up to {idle_mean + allowance:.1f}")
        if loaded_mean > idle_mean + allowance:
            failures.append("the paced runs missed more deadlines under load than idle")
    if loaded.get("sse_events_received", 0) < arguments.clients:
        failures.append("the SSE clients received fewer events than clients")
    if loaded["api_requests_per_second"] < 100:
        failures.append("wrk did not load the API (fewer than 100 requests a second)")
    print(f"load: {arguments.clients} SSE clients ({loaded['sse_events_received']} events received), "
          f"wrk {loaded['api_requests_per_second']} requests/s ({loaded['api_rate_limited']} answered 429)")
    return verdict("box_load_test", failures)


if __name__ == "__main__":
    sys.exit(main())
