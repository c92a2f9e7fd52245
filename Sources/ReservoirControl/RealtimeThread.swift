import CRealtime

#if canImport(Glibc)
    import Glibc
#endif

/// Runs work on a dedicated thread set up for real time where the process may: memory locked
/// (mlockall), SCHED_FIFO at `priority`, pinned to `cpu`. What could not be set is reported as
/// one notice each; the work then runs as an ordinary thread.
public enum RealtimeThread {
    /// What a real-time setup achieved.
    public struct Setup: Sendable {
        /// Whether all memory is locked.
        public var memoryLocked = false
        /// Whether the thread runs SCHED_FIFO.
        public var fifoScheduling = false
        /// The CPU the thread is pinned to, if any.
        public var pinnedCPU: Int?
        /// One line per privilege that was missing.
        public var notices: [String] = []
    }

    /// Installs the SIGINT/SIGTERM handlers the drive loop polls (see `SafeReason.signal`).
    public static func installStopSignalHandlers() {
        _ = rt_install_stop_signal_handlers()
    }

    /// Makes a crash (a trap, SIGSEGV, SIGABRT, …) shut down the process's sockets first, so a
    /// board served over the network sees its client go at once and drives itself safe, before
    /// Swift's backtracer (which can take seconds) runs. Call once, at start.
    public static func installCrashSocketShutdown() {
        _ = rt_install_crash_socket_shutdown()
    }

    /// Forgets a recorded stop signal (tests that raise one clean up with this).
    public static func clearStopSignal() { rt_clear_stop_signal() }

    /// Unblocks every signal in the calling thread: a parent may have started this process with
    /// signals blocked (the mask survives exec; a child of a Dispatch or Foundation thread gets
    /// SIGTERM and SIGINT blocked), and a controller that a supervisor cannot stop with SIGTERM
    /// is stopped by SIGKILL instead, with no chance to leave the board safe. Call first in main.
    @discardableResult
    public static func unblockInheritedSignals() -> Int32 { rt_unblock_all_signals() }

    /// Ignores SIGPIPE, so a network peer that closes mid-write makes the write fail with EPIPE
    /// (a stream error the loop stops on, board safe) instead of killing the process. Call
    /// first in main.
    @discardableResult
    public static func ignoreBrokenPipe() -> Int32 { rt_ignore_broken_pipe() }

    /// For a service sharing the machine with drive loops (the lab box): keeps every thread of
    /// the process, and every thread started afterwards, off the CPU a loop pins itself to (the
    /// last allowed), so serving HTTP never competes with the loop. Returns 0 or an error number.
    @discardableResult
    public static func keepOffLoopCPU() -> Int32 { rt_keep_off_loop_cpu() }

    /// Gives the calling thread back the CPUs it had before `keepOffLoopCPU`, so the processes
    /// it starts (a job with its own drive loop) may use them all.
    @discardableResult
    public static func restoreInheritedCPUs() -> Int32 { rt_restore_inherited_affinity() }

    /// Runs `body` on a new thread with the real-time setup, waits for it, and returns what it
    /// returned with what the setup achieved.
    public static func run<T>(priority: Int32 = 70, cpu: Int? = nil, _ body: @escaping () -> T) -> (T, Setup) {
        nonisolated(unsafe) var result: T?  // written by the thread, read after it is joined
        nonisolated(unsafe) var setup = Setup()
        let started = startThread {
            setup = prepareCurrentThread(priority: priority, cpu: cpu)
            result = body()
        }
        switch started {
        case .success(let thread):
            pthread_join(thread, nil)
        case .failure(let failure):
            var fallback = Setup()
            fallback.notices.append(
                "notice: could not start a loop thread (error \(failure.code)); running on the calling thread")
            return (body(), fallback)
        }
        return (result!, setup)
    }

    /// Applies the real-time settings to the calling thread.
    static func prepareCurrentThread(priority: Int32, cpu: Int?) -> Setup {
        var setup = Setup()
        let locked = rt_lock_memory()
        if locked == 0 {
            setup.memoryLocked = true
        } else {
            setup.notices.append(
                "notice: memory not locked (mlockall: \(describe(locked))); page faults may delay periods")
        }
        let fifo = rt_set_fifo_priority(priority)
        if fifo == 0 {
            setup.fifoScheduling = true
        } else {
            setup.notices.append(
                "notice: no real-time scheduling (SCHED_FIFO \(priority): \(describe(fifo))); running as an ordinary thread"
            )
        }
        let target = cpu ?? max(Int(rt_allowed_cpu_count()) - 1, 0)
        let pinned = rt_pin_current_thread_to_cpu(Int32(target))
        if pinned == 0 {
            setup.pinnedCPU = target
        } else {
            setup.notices.append("notice: the loop thread is not pinned (CPU \(target): \(describe(pinned)))")
        }
        return setup
    }

    private static func describe(_ error: Int32) -> String {
        String(cString: strerror(error))
    }
}

/// A thread that could not be created: the error number pthread_create returned.
struct ThreadStartFailure: Error {
    var code: Int32
}

/// Starts `body` on a new joinable thread (pthread_create; the closure is handed over retained).
func startThread(_ body: @escaping () -> Void) -> Result<pthread_t, ThreadStartFailure> {
    final class Work: @unchecked Sendable {  // handed to exactly one thread
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }
    var thread = pthread_t()
    let context = Unmanaged.passRetained(Work(body)).toOpaque()
    let result = pthread_create(
        &thread, nil,
        { context in
            Unmanaged<Work>.fromOpaque(context!).takeRetainedValue().body()
            return nil
        }, context)
    guard result == 0 else {
        Unmanaged<Work>.fromOpaque(context).release()
        return .failure(ThreadStartFailure(code: result))
    }
    return .success(thread)
}
