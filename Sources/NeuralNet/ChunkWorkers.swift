import Dispatch
import Foundation
import Synchronization

/// Threads that evaluate chunks of a batch alongside the calling thread (`NetworkWorkspace`).
///
/// A forward pass at our sizes takes 0.1–1 ms, and waking a thread blocked on a semaphore
/// costs tens of microseconds on a virtual machine, so the hand-off spins: `run` bumps a
/// generation counter that idle workers poll, and `wait` polls a count of finished chunks.
/// A worker that has seen no work for a while (about a millisecond) goes to sleep on its
/// semaphore, so an idle workspace costs no CPU.
///
/// Sleeping without missing a wake-up: the worker publishes `sleeping`, then re-reads the
/// generation; `run` publishes the generation, then reads `sleeping`. Both are sequentially
/// consistent, so at least one of them sees the other's write: either the worker notices the
/// work and does not sleep, or `run` signals. A stray signal only makes a later wait return
/// early, and the worker re-checks the generation.
final class ChunkWorkers: @unchecked Sendable {  // the body is handed over through the atomics
    private final class Shared: @unchecked Sendable {
        var body: ((Int) -> Void)?
        let generation = Atomic<Int>(0)
        let finished = Atomic<Int>(0)
        let stopping = Atomic<Bool>(false)
        let workers: [Worker]
        init(count: Int) { workers = (0..<count).map { _ in Worker() } }
    }

    private final class Worker: Sendable {
        let sleeping = Atomic<Bool>(false)
        let wake = DispatchSemaphore(value: 0)
    }

    /// Polls of the generation before a worker sleeps (each poll is a load and a pause).
    private static let spinsBeforeSleep = 1_000_000

    private let shared: Shared
    private var running = 0

    /// `count` worker threads, started now and stopped when this object goes away.
    init(count: Int) {
        shared = Shared(count: count)
        for worker in 0..<count {
            let shared = shared
            let thread = Thread { Self.work(worker, shared) }
            thread.name = "ringlab-chunk-\(worker + 1)"
            thread.start()
        }
    }

    private static func work(_ worker: Int, _ shared: Shared) {
        var seen = 0
        while true {
            var spins = 0
            var current = shared.generation.load(ordering: .sequentiallyConsistent)
            while current == seen && spins < spinsBeforeSleep {
                spins += 1
                current = shared.generation.load(ordering: .sequentiallyConsistent)
            }
            if current == seen {
                let own = shared.workers[worker]
                own.sleeping.store(true, ordering: .sequentiallyConsistent)
                if shared.generation.load(ordering: .sequentiallyConsistent) == seen { own.wake.wait() }
                own.sleeping.store(false, ordering: .sequentiallyConsistent)
                continue
            }
            seen = current
            if shared.stopping.load(ordering: .sequentiallyConsistent) { return }
            shared.body?(worker)
            shared.finished.add(1, ordering: .sequentiallyConsistent)
        }
    }

    deinit {
        shared.stopping.store(true, ordering: .sequentiallyConsistent)
        shared.generation.add(1, ordering: .sequentiallyConsistent)
        for worker in shared.workers { worker.wake.signal() }
    }

    /// Starts `body(worker)` on workers 0..<chunks (the others see a nil-free body but skip
    /// it); `wait()` must follow before `body`'s captures go away.
    func run(chunks: Int, _ body: @escaping (Int) -> Void) {
        precondition(chunks <= shared.workers.count && running == 0)
        running = shared.workers.count
        shared.body = { worker in if worker < chunks { body(worker) } }
        shared.finished.store(0, ordering: .sequentiallyConsistent)
        shared.generation.add(1, ordering: .sequentiallyConsistent)
        for worker in shared.workers where worker.sleeping.load(ordering: .sequentiallyConsistent) {
            worker.wake.signal()
        }
    }

    /// Blocks (spinning) until every worker has finished the chunk started by `run`.
    func wait() {
        while shared.finished.load(ordering: .sequentiallyConsistent) < running {}
        running = 0
        shared.body = nil
    }
}
