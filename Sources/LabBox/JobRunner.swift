import Foundation
import Logging
import ReservoirControl
import Synchronization

/// Runs the box's queue, one job at a time, each a child process of `ringlab` — so a job that
/// traps or is killed cannot take the service down. The board is safe whenever no job runs:
/// after any end that was not clean (a signal, a failure, a cancel) the runner drives it safe
/// with `ringlab safe` before the next job starts. An interlock stop holds the queue until an
/// operator releases it.
public final class JobRunner: Sendable {
    public struct Configuration: Sendable {
        public var board: String
        public var stateDirectory: String
        /// Seconds between SIGTERM and SIGKILL when a job is cancelled or the service stops.
        public var cancelGrace: Double = 10
        public var pollInterval: Double = 0.1

        public init(board: String, stateDirectory: String) {
            self.board = board
            self.stateDirectory = stateDirectory
        }
    }

    struct Running {
        var job: JobRecord
        var process: Process
        var terminateSentAt: Date?
        var cancelRequested = false
    }

    struct State {
        var running: Running?
        var stopping = false
        var stopped = false
    }

    public let store: BoxStore
    public let ringlab: RinglabProcess
    public let configuration: Configuration
    let provenance: Provenance
    let logger: Logger
    let state = Mutex(State())
    /// Called after each job ends (metrics), with its record.
    let onFinish: @Sendable (JobRecord) -> Void

    public init(
        store: BoxStore, ringlab: RinglabProcess, configuration: Configuration, logger: Logger,
        onFinish: @escaping @Sendable (JobRecord) -> Void = { _ in }
    ) {
        self.store = store
        self.ringlab = ringlab
        self.configuration = configuration
        self.logger = logger
        self.onFinish = onFinish
        self.provenance = Provenance.of(ringlab)
    }

    public static let holdKey = "queue.hold"
    public static let boardKey = "board.state"

    /// After a restart: marks what was running interrupted, stops any of its processes that
    /// outlived the old service, and drives the board safe.
    public func recover() throws {
        let cutShort = try store.markRunningInterrupted(reason: "the service ended while the job ran (crash, power loss or kill)")
        for job in cutShort {
            if let pid = job.processID, Self.isRinglab(pid) {
                logger.warning("job \(job.id ?? 0): its process \(pid) outlived the service; stopping it")
                Self.terminate(pid, grace: configuration.cancelGrace)
            }
        }
        if !cutShort.isEmpty { logger.warning("marked \(cutShort.count) job(s) interrupted") }
        recordSafe(reason: "service start")
    }

    /// Whether `pid` is a live `ringlab` process (a recorded pid may have been reused).
    static func isRinglab(_ pid: Int32) -> Bool {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
        let first = data.split(separator: 0).first.map { String(decoding: $0, as: UTF8.self) } ?? ""
        return first.hasSuffix("/ringlab") || first == "ringlab"
    }

    /// SIGTERM, then SIGKILL after `grace` seconds if the process still lives.
    static func terminate(_ pid: Int32, grace: Double) {
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(grace)
        while isAlive(pid), Date() < deadline { usleep(50_000) }
        if isAlive(pid) { kill(pid, SIGKILL) }
    }

    /// Whether `pid` runs: it exists and is not a zombie (an orphan that ended waits as one
    /// until init reaps it, and kill(pid, 0) still succeeds on it).
    public static func isAlive(_ pid: Int32) -> Bool {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/stat") else { return false }
        let text = String(decoding: data, as: UTF8.self)
        guard let close = text.lastIndex(of: ")") else { return false }
        let fields = text[text.index(after: close)...].split(separator: " ")
        return fields.first.map { $0 != "Z" && $0 != "X" } ?? false
    }

    /// Records the board's state (`state`: safe, driven or unsafe, with why) and since when.
    func recordBoardState(_ fields: [String: Any]) {
        let record = fields.merging(["since": Date().timeIntervalSince1970]) { kept, _ in kept }
        if let data = try? JSONSerialization.data(withJSONObject: record) {
            try? store.setSetting(Self.boardKey, String(decoding: data, as: UTF8.self))
        }
    }

    /// Drives the board safe and records the outcome as the board's state.
    @discardableResult
    func recordSafe(reason: String) -> Bool {
        let (safe, report) = ringlab.driveSafe(board: configuration.board)
        recordBoardState([
            "state": safe ? "safe" : "unsafe", "reason": reason,
            "report": (try? JSONSerialization.jsonObject(with: Data(report.utf8))) ?? report,
        ])
        if !safe { logger.critical("ringlab safe could not confirm the board safe: \(report)") }
        return safe
    }

    /// The job running now, if any.
    public var current: JobRecord? { state.withLock { $0.running?.job } }

    /// Cancels job `id`: a queued one leaves the queue, the running one gets SIGTERM and, after
    /// the grace period, SIGKILL. Returns false when the job is neither.
    public func cancel(_ id: Int64) throws -> Bool {
        let wasRunning = state.withLock { state -> Bool in
            guard state.running?.job.id == id else { return false }
            state.running?.cancelRequested = true
            return true
        }
        return try wasRunning || store.cancelQueued(id)
    }

    /// Runs the queue until `stop()`; blocks the calling thread. Jobs start from this thread,
    /// which first takes back every CPU the service gave up (`RealtimeThread.keepOffLoopCPU`),
    /// so a job's drive loop can pin itself where it would outside the box.
    public func run() {
        RealtimeThread.restoreInheritedCPUs()
        while !state.withLock({ $0.stopped }) {
            do {
                try step()
            } catch {
                logger.error("runner: \(error)")
            }
            Thread.sleep(forTimeInterval: configuration.pollInterval)
        }
    }

    /// Stops the runner: a running job is terminated (SIGTERM, then SIGKILL) and marked
    /// interrupted; the board is driven safe. Returns when done.
    public func stop() {
        state.withLock { $0.stopping = true }
        while state.withLock({ $0.running != nil && !$0.stopped }) {
            Thread.sleep(forTimeInterval: 0.05)
        }
        state.withLock { $0.stopped = true }
    }

    func step() throws {
        let (running, stopping) = state.withLock { ($0.running, $0.stopping) }
        guard let running else {
            if stopping {
                state.withLock { $0.stopped = true }
                return
            }
            if try store.setting(Self.holdKey) == nil { try startNext() }
            return
        }
        if !running.process.isRunning {
            try finish(running)
            return
        }
        if running.cancelRequested || stopping {
            if running.terminateSentAt == nil {
                kill(running.process.processIdentifier, SIGTERM)
                state.withLock { $0.running?.terminateSentAt = Date() }
            } else if let sent = running.terminateSentAt, Date().timeIntervalSince(sent) > configuration.cancelGrace {
                kill(running.process.processIdentifier, SIGKILL)
            }
        }
    }
}
