import CRealtime
import ReservoirHAL

/// CLOCK_MONOTONIC as a `BoardClock`: the time base of hardware and of the paced twin.
/// Sleeps are absolute-deadline `clock_nanosleep` calls, so periodic loops do not drift.
public final class MonotonicClock: BoardClock {
    private let originNanoseconds: Int64

    /// A clock whose zero is now.
    public init() { originNanoseconds = rt_monotonic_nanoseconds() }

    /// Time since the clock was created (`clock_gettime(CLOCK_MONOTONIC)`).
    public func now() -> Duration { .nanoseconds(rt_monotonic_nanoseconds() - originNanoseconds) }

    /// Sleeps until `deadline` (`clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME)`, EINTR retried).
    public func sleep(until deadline: Duration) {
        _ = rt_sleep_until_monotonic_nanoseconds(originNanoseconds + deadline.nanoseconds)
    }
}

/// Versions of the C libraries this build links, for `ringlab version` and run records.
public enum NativeLibraries {
    /// libiio's version.
    public static var iioVersion: String { IIOCalls.libraryVersion() }
    /// libgpiod's version.
    public static var gpiodVersion: String { GPIODCalls.versionString() }
}
