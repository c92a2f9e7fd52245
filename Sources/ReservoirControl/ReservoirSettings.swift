import ReservoirHAL

/// How the drive loop multiplexes the ring (docs/drive-loop.md): N virtual nodes of S samples
/// per period, the operating point, feedback, and how states are read.
public struct ReservoirSettings: Sendable, Equatable {
    /// Virtual nodes per period, N.
    public var nodes = 50
    /// Samples each node holds its drive, S (θ = S/f_s).
    public var samplesPerNode = 4
    /// Samples discarded at the start of each node while the chain settles.
    public var settleSamples = 1
    /// Repeats of the whole stream whose states are averaged, R.
    public var shots = 1
    /// Feedback strength η.
    public var feedback = 0.0
    /// Periods between a node's state and the drive it feeds back into, D; each input is held
    /// for D periods, each held period taking its feedback from the same phase of the previous
    /// input, and the D states of an input are averaged. Nil: the smallest the pipeline allows.
    public var delayPeriods: Int?
    /// Where the drive and the readout sit.
    public var operatingPoint: BoardDescription.OperatingPoint

    /// Settings at `operatingPoint` with the defaults above.
    public init(operatingPoint: BoardDescription.OperatingPoint) {
        self.operatingPoint = operatingPoint
        feedback = operatingPoint.feedback
    }

    /// Samples per period, N·S.
    public var samplesPerPeriod: Int { nodes * samplesPerNode }

    /// Blocks the loop keeps queued ahead of the DAC: while period m plays, m + 1 is queued and
    /// m + 2 is computed (double buffering).
    public static let blocksAhead = 2

    /// The smallest D that keeps the feedback causal: the drive of period m + 2 is computed once
    /// ADC block m is in, when every period whose aligned samples (shifted by the latency L) end
    /// by then is complete: D ≥ 2 + ⌈L / (N·S)⌉.
    public var minimumDelayPeriods: Int {
        let latency = operatingPoint.latencySamples
        return Self.blocksAhead + (latency + samplesPerPeriod - 1) / samplesPerPeriod
    }

    /// D in use: the requested value, or 1 without feedback, or the minimum.
    public var effectiveDelayPeriods: Int {
        if let delayPeriods { return delayPeriods }
        return feedback == 0 ? 1 : minimumDelayPeriods
    }

    /// Problems with these settings on `board`, as one message; nil when they are usable.
    public func problem(on board: BoardDescription) -> String? {
        if nodes < 1 || nodes > 10_000 { return "--nodes must be 1 to 10000, found \(nodes)" }
        if samplesPerNode < 1 || samplesPerNode > 10_000 {
            return "--samples-per-node must be 1 to 10000, found \(samplesPerNode)"
        }
        if settleSamples < 0 || settleSamples >= samplesPerNode {
            return
                "the settling skip must leave at least one sample per node (skip \(settleSamples), S \(samplesPerNode))"
        }
        if shots < 1 || shots > 1000 { return "--shots must be 1 to 1000, found \(shots)" }
        if !feedback.isFinite { return "--feedback must be finite" }
        if let delayPeriods, feedback != 0, delayPeriods < minimumDelayPeriods {
            return "a feedback delay of \(delayPeriods) periods is not causal with latency "
                + "\(operatingPoint.latencySamples) samples; it must be at least \(minimumDelayPeriods)"
        }
        if let delayPeriods, delayPeriods < 1 { return "the feedback delay must be at least 1 period" }
        if !board.driveRange.contains(operatingPoint.biasVolts) {
            return "the bias \(operatingPoint.biasVolts) is outside the board's drive range"
        }
        return nil
    }
}
