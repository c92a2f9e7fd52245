import ReservoirHAL

/// Why the drive loop put the board in its safe state and stopped early.
public enum SafeReason: Sendable, Equatable, CustomStringConvertible {
    /// SIGINT or SIGTERM arrived (the signal number).
    case signal(Int32)
    /// The interlock input was asserted.
    case interlock
    /// A converter or line operation failed.
    case ioError(String)
    /// The ADC read over range for this many consecutive periods.
    case overRange(periods: Int)
    /// No period completed within the watchdog's timeout.
    case watchdog
    /// The ADC repeated one reading for this many consecutive periods (a stuck converter).
    case adcStuck(periods: Int)
    /// The detector read far below the drive's range for this many periods while the ring
    /// should oscillate (a failed amplifier or an open loop).
    case ringSilent(periods: Int)
    /// A DAC block was queued after its period had begun: the DAC underran, so the ADC blocks
    /// no longer line up with the drive and the run's states would be wrong.
    case deadlineMiss(period: Int)
    /// The caller's drive held a value that is not a finite number (input row, node).
    case invalidDrive(row: Int, node: Int)
    /// The run ended normally.
    case endOfRun

    /// A short machine-readable name (`safe_reason` in JSON output).
    public var name: String {
        switch self {
        case .signal: return "signal"
        case .interlock: return "interlock"
        case .ioError: return "io-error"
        case .overRange: return "adc-over-range"
        case .watchdog: return "watchdog"
        case .adcStuck: return "adc-stuck"
        case .ringSilent: return "ring-silent"
        case .deadlineMiss: return "deadline-miss"
        case .invalidDrive: return "invalid-drive"
        case .endOfRun: return "end-of-run"
        }
    }

    public var description: String {
        switch self {
        case .signal(let number): return "signal \(number) received"
        case .interlock: return "the interlock input is asserted"
        case .ioError(let detail): return "I/O error: \(detail)"
        case .overRange(let periods): return "the ADC read over range for \(periods) consecutive periods"
        case .watchdog: return "watchdog: no period completed in time"
        case .adcStuck(let periods): return "the ADC repeated one reading for \(periods) consecutive periods (stuck)"
        case .ringSilent(let periods):
            return
                "the detector read far below the drive's range for \(periods) consecutive periods (amplifier failed?)"
        case .deadlineMiss(let period):
            return "the DAC block of period \(period) was late; the stream lost its alignment"
        case .invalidDrive(let row, let node):
            return "the drive of input \(row), node \(node) is not a finite number; nothing was streamed"
        case .endOfRun: return "end of run"
        }
    }
}

/// The loop stopped before finishing its work and put the board in its safe state.
public struct LoopStopped: Error, Sendable, CustomStringConvertible {
    /// What stopped it.
    public var reason: SafeReason
    /// Periods completed before the stop.
    public var periods: Int
    /// How reaching the safe state went.
    public var safeState: SafeStateOutcome

    public var description: String {
        let failures =
            safeState.failures.isEmpty
            ? "" : "; while entering the safe state: " + safeState.failures.map(\.description).joined(separator: "; ")
        return "the drive loop stopped after \(periods) periods: \(reason)\(failures)"
    }
}
