import Foundation
import LabBox
import Logging
import Metrics
import NIOCore
import Synchronization

/// The box's Prometheus series (swift-metrics, exported by swift-prometheus at /metrics).
/// Drive-loop figures come from each finished job's summary (the loop runs in the job's
/// process); the current job's loss from its step log while it runs.
final class BoxMetrics: Sendable {
    let currentLoss = Gauge(label: "ringlab_job_loss")
    let periods = Counter(label: "ringlab_drive_loop_periods_total")
    let deadlineMisses = Counter(label: "ringlab_drive_loop_deadline_misses_total")
    let utilization = Gauge(label: "ringlab_converter_utilization")
    let lossTail = Mutex<(job: Int64, tail: LogTail)?>(nil)

    func jobsByState(_ counts: [JobState: Int]) {
        for state in JobState.allCases {
            Gauge(label: "ringlab_jobs", dimensions: [("state", state.rawValue)]).record(counts[state] ?? 0)
        }
    }

    func safeStateEntered(reason: String) {
        Counter(label: "ringlab_safe_state_entries_total", dimensions: [("reason", reason)]).increment()
    }

    /// Records what a finished job's summary says about the drive loop and the safe state.
    func jobFinished(_ job: JobRecord) {
        if job.state != .done { safeStateEntered(reason: "job-\(job.state.rawValue)") }
        guard let text = job.summary,
            let summary = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        else { return }
        if let count = summary["periods"] as? Int { periods.increment(by: count) }
        if let count = summary["deadline_misses"] as? Int { deadlineMisses.increment(by: count) }
        if let value = summary["converter_utilization"] as? Double { utilization.record(value) }
        if let reason = summary["safe_reason"] as? String { safeStateEntered(reason: reason) }
        if let wakeup = summary["wakeup_us"] as? [String: Double] {
            // The loop's own HDR histogram stays in its process; its quantiles arrive here.
            for (quantile, key) in [("0.5", "p50"), ("0.99", "p99"), ("0.999", "p99.9"), ("1", "max")] {
                if let value = wakeup[key] {
                    Gauge(label: "ringlab_wakeup_latency_microseconds", dimensions: [("quantile", quantile)]).record(value)
                }
            }
        }
    }

    /// Follows the running job's step log for its latest loss.
    func follow(_ job: JobRecord?) {
        guard let job, let id = job.id, let folder = job.runDirectory else {
            lossTail.withLock { $0 = nil }
            return
        }
        let latest = lossTail.withLock { tail -> String? in
            if tail?.job != id { tail = (id, LogTail(path: folder + "/steps.jsonl")) }
            return tail?.tail.readLines().last
        }
        if let latest, let step = try? JSONSerialization.jsonObject(with: Data(latest.utf8)) as? [String: Any],
            let loss = step["loss"] as? Double
        {
            currentLoss.record(loss)
        }
    }
}

extension Box {
    func refreshMetrics() {
        if let counts = try? store.countsByState() { metrics.jobsByState(counts) }
        metrics.follow(runner.current)
    }
}

/// Log lines as JSON objects (journald and log shippers parse them): time, level, label,
/// message, metadata.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var object: [String: String] = [
            "time": ISO8601DateFormatter().string(from: Date()), "level": event.level.rawValue, "label": label,
            "message": event.message.description,
        ]
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) {
            object[key] = value.description
        }
        if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) {
            FileHandle.standardError.write(data + Data("\n".utf8))
        }
    }
}
