/// What a run of the drive loop did, for `ringlab run` and the benchmarks.
public struct LoopStatistics: Sendable, Equatable {
    /// Periods streamed (DAC block pushed and ADC block read).
    public var periods = 0
    /// Periods whose ADC block contained an over-range sample.
    public var overRangePeriods = 0
    /// Periods whose next DAC block was pushed after its deadline (paced runs).
    public var deadlineMisses = 0
    /// Total compute time of the loop's own work, excluding waits for the converters, in ns.
    public var computeNanoseconds: Int64 = 0
    /// The longest compute time of one period, in ns.
    public var maximumComputeNanoseconds: Int64 = 0

    public init() {}

    /// Mean compute time per period in microseconds.
    public var meanComputeMicroseconds: Double {
        periods == 0 ? 0 : Double(computeNanoseconds) / Double(periods) / 1000
    }
}
