import ReservoirHAL

/// When the drive loop stops a run on what its ADC blocks show: one value, passed to the loop
/// (`DriveLoop.limits`).
public struct SafetyLimits: Sendable, Equatable {
    /// Consecutive over-range periods that stop the loop.
    public var overRangePeriods = 20
    /// Consecutive periods of one repeated ADC reading that stop the loop (a live detector
    /// always dithers by at least a code).
    public var stuckPeriods = 5
    /// Consecutive periods with the mean state below `silentLevel` that stop the loop.
    public var silentPeriods = 3
    /// A mean normalized state this far below the drive's range means the ring has gone quiet.
    public var silentLevel = -0.5
    /// Whether a late DAC block ends the run (`SafeReason.deadlineMiss`). On by default: after
    /// an underrun the DAC has played extra samples, the ADC blocks no longer line up with the
    /// drive, and states would be silently wrong. A soak test (`ringlab run`) turns it off to
    /// count misses instead.
    public var stopsOnDeadlineMiss = true

    public init() {}
}

/// The per-period checks on an ADC block: persistent over-range, a stuck converter, a ring gone
/// silent. A value with counters, no allocation; the loop adds what needs I/O (signals, the
/// watchdog, the interlock).
public struct SafetyMonitor: Sendable {
    public let limits: SafetyLimits
    /// A reading at or above this is over range (the ADC's full scale).
    public let overRangeVolts: Double
    private var consecutiveOverRange = 0
    private var consecutiveStuck = 0
    private var consecutiveSilent = 0

    public init(limits: SafetyLimits, overRangeVolts: Double) {
        self.limits = limits
        self.overRangeVolts = overRangeVolts
    }

    /// Forgets the counts (a new stream).
    public mutating func reset() {
        consecutiveOverRange = 0
        consecutiveStuck = 0
        consecutiveSilent = 0
    }

    /// Checks one ADC block; `level` maps the block's mean reading to a normalized state (nil
    /// before the normalization is known). Returns why to stop, if the loop must, and whether
    /// the block was over range.
    @inline(__always)
    public mutating func check(_ readings: UnsafeMutableBufferPointer<Volts>, level: (Double) -> Double?)
        -> (stop: SafeReason?, overRange: Bool)
    {
        var overRange = false
        var identical = true
        var sum = 0.0
        let first = readings[0].value
        for reading in readings {
            if reading.value >= overRangeVolts { overRange = true }
            if reading.value != first { identical = false }
            sum += reading.value
        }
        // The ring has gone quiet when the whole block reads far below the drive's range (on
        // the raw block, so without waiting for the latency-aligned states).
        if let state = level(sum / Double(readings.count)) {
            consecutiveSilent = state < limits.silentLevel ? consecutiveSilent + 1 : 0
            if consecutiveSilent >= limits.silentPeriods { return (.ringSilent(periods: consecutiveSilent), overRange) }
        }
        // A converter pinned at full scale is over range, reported as such below.
        consecutiveStuck = identical && !overRange ? consecutiveStuck + 1 : 0
        if consecutiveStuck >= limits.stuckPeriods { return (.adcStuck(periods: consecutiveStuck), overRange) }
        if overRange {
            consecutiveOverRange += 1
            if consecutiveOverRange > limits.overRangePeriods {
                return (.overRange(periods: consecutiveOverRange), overRange)
            }
        } else {
            consecutiveOverRange = 0
        }
        return (nil, overRange)
    }
}
