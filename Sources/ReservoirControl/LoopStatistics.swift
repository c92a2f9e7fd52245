import Histogram

/// What a run of the drive loop did, for `ringlab run` and the benchmarks.
public struct LoopStatistics: Sendable {
    /// Periods streamed (ADC block read and the block two ahead pushed).
    public var periods = 0
    /// When the interlock stopped the loop: from the kernel's timestamp of its edge to the
    /// safe state's last step (nil: no interlock stop, or a line without edge timestamps).
    public var interlockToSafeNanoseconds: Int64?
    /// Periods that drove inputs of an evaluation (no range probe, no bias between).
    public var evaluationPeriods = 0
    /// Times a session started its streams again because the host came back too late.
    public var streamRestarts = 0
    /// Periods whose ADC block contained an over-range sample.
    public var overRangePeriods = 0
    /// DAC blocks pushed after the start of the period they drive (on the board's clock).
    public var deadlineMisses = 0
    /// Total compute time of the loop's own work per period, excluding waits for the
    /// converters, in ns (wall time).
    public var computeNanoseconds: Int64 = 0
    /// The longest compute time of one period, in ns.
    public var maximumComputeNanoseconds: Int64 = 0
    /// Wake-up latency: how long after a period's last sample was due (on the board's clock)
    /// the loop had its ADC block, in ns. Zero in lock-step, where the board's time is the
    /// work itself.
    public var wakeUpLatency = Histogram<UInt64>(
        highestTrackableValue: 10_000_000_000, numberOfSignificantValueDigits: .three)
    /// How long each ADC refill took after the wake-up (ns): on a paced twin the simulation of
    /// the period, on hardware the copy of a buffer the kernel filled.
    public var refillTime = Histogram<UInt64>(
        highestTrackableValue: 10_000_000_000, numberOfSignificantValueDigits: .three)

    public init() {}

    /// Host time between evaluations beyond the bias periods queued for it (ns, wall time).
    public var hostIdleNanoseconds: Int64 = 0

    /// The converters' utilization had the board been paced: time streaming evaluations over
    /// time streaming anything (range probes, bias between evaluations) plus the host's idle
    /// time beyond the queued periods. `periodNanoseconds`: one period, N·S/f_s.
    public func utilizationAsPaced(periodNanoseconds: Int64) -> Double {
        let busy = Double(periods) * Double(periodNanoseconds) + Double(hostIdleNanoseconds)
        return busy == 0 ? 0 : Double(evaluationPeriods) * Double(periodNanoseconds) / busy
    }

    /// Mean compute time per period in microseconds.
    public var meanComputeMicroseconds: Double {
        periods == 0 ? 0 : Double(computeNanoseconds) / Double(periods) / 1000
    }

    /// Wake-up latency percentile `percentile` (0–100) in microseconds.
    public func wakeUpMicroseconds(percentile: Double) -> Double {
        Double(wakeUpLatency.valueAtPercentile(percentile)) / 1000
    }

    /// The largest wake-up latency in microseconds.
    public var maximumWakeUpMicroseconds: Double { Double(wakeUpLatency.max) / 1000 }

    public func refillMicroseconds(percentile: Double) -> Double {
        Double(refillTime.valueAtPercentile(percentile)) / 1000
    }
}
