import Dispatch
import NIOPosix
import Synchronization

/// The one thread that touches the served board. Connections hand it jobs (one step of a
/// session, a safety check) and get their results back on their event loop, so the event loop
/// never waits on the board and a paced stream never holds up another connection's commands
/// for longer than one job. Urgent jobs (a connection that went away, the dead-man check) run
/// before the queued ordinary ones.
final class BoardExecutor: Sendable {
    typealias Job = @Sendable () -> Void

    private struct Queues: ~Copyable {
        var urgent: [Job] = []
        var ordinary: [Job] = []
        var urgentHead = 0
        var ordinaryHead = 0
        var stopping = false
    }

    private let queues = Mutex(Queues())
    private let ready = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private let pool = NIOThreadPool(numberOfThreads: 1)

    init() {
        pool.start()
        pool.submit { [self] _ in runJobs() }
    }

    /// Queues `job`.
    func submit(urgent: Bool = false, _ job: @escaping Job) {
        let accepted = queues.withLock { queues in
            guard !queues.stopping else { return false }
            if urgent { queues.urgent.append(job) } else { queues.ordinary.append(job) }
            return true
        }
        if accepted { ready.signal() }
    }

    /// Runs the jobs queued so far, then `last`, and stops the thread.
    func stop(after last: @escaping Job) {
        submit(urgent: false, last)
        queues.withLock { $0.stopping = true }
        ready.signal()
        finished.wait()
        try? pool.syncShutdownGracefully()
    }

    private func runJobs() {
        while true {
            ready.wait()
            let next: Job? = queues.withLock { queues in
                defer {
                    // Drop what has run once a queue is drained (bounded memory).
                    if queues.urgentHead == queues.urgent.count {
                        queues.urgent.removeAll(keepingCapacity: true)
                        queues.urgentHead = 0
                    }
                    if queues.ordinaryHead == queues.ordinary.count {
                        queues.ordinary.removeAll(keepingCapacity: true)
                        queues.ordinaryHead = 0
                    }
                }
                if queues.urgentHead < queues.urgent.count {
                    queues.urgentHead += 1
                    return queues.urgent[queues.urgentHead - 1]
                }
                if queues.ordinaryHead < queues.ordinary.count {
                    queues.ordinaryHead += 1
                    return queues.ordinary[queues.ordinaryHead - 1]
                }
                return nil
            }
            if let next {
                next()
                continue
            }
            if queues.withLock({ $0.stopping }) {
                finished.signal()
                return
            }
        }
    }
}
