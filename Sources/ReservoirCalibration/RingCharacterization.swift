import ReservoirHAL

/// The four figures that pin down a ring's operating regime: threshold, relaxation time near
/// threshold, noise floor below it, saturated power above it; measured through the Board only.
public struct RingCharacterization {
    /// Where and how to measure.
    public struct Plan: Sendable {
        /// Detector constants.
        public var readout: PowerReadout
        /// Drive range searched for the threshold.
        public var thresholdSearchRange: ClosedRange<Volts>
        /// The drive at which the relaxation is measured (the step ends here).
        public var relaxationVolts: Volts
        /// The drive the step starts from (a little lower gain).
        public var relaxationStartVolts: Volts
        /// The drive at which the noise floor is measured.
        public var noiseFloorVolts: Volts
        /// The drive at which the saturated power is measured.
        public var saturationVolts: Volts

        public init(
            readout: PowerReadout, thresholdSearchRange: ClosedRange<Volts>, relaxationVolts: Volts,
            relaxationStartVolts: Volts, noiseFloorVolts: Volts, saturationVolts: Volts
        ) {
            self.readout = readout
            self.thresholdSearchRange = thresholdSearchRange
            self.relaxationVolts = relaxationVolts
            self.relaxationStartVolts = relaxationStartVolts
            self.noiseFloorVolts = noiseFloorVolts
            self.saturationVolts = saturationVolts
        }
    }

    /// What was measured.
    public struct Result: Sendable {
        /// Drive voltage at threshold (G = 1).
        public var thresholdVolts: Volts
        /// Relaxation time of the detected power after a small step, in seconds.
        public var relaxationSeconds: Double
        /// Mean power below threshold.
        public var noiseFloorPower: Double
        /// Mean power above threshold.
        public var saturationPower: Double
    }

    /// A measurement that produced no number.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// The relaxation measurement's drive: samples at the measured level (≈ 6 τ at G = 0.98 on
    /// the default twin), samples at the start level (long enough to settle there), repetitions.
    public var relaxationHighSamples = 16
    public var relaxationLowSamples = 6
    public var relaxationCycles = 80_000
    /// Samples averaged for the noise floor and the saturated power.
    public var noiseFloorSamples = 200_000
    public var saturationSamples = 50_000

    public init() {}

    /// Enables the ring, measures, and leaves the board in its safe state whatever happens.
    /// `progress` is told the name of each stage as it starts.
    public func run(board: Board, plan: Plan, progress: (String) -> Void = { _ in }) throws -> Result {
        defer { try? board.enterSafeState() }
        try board.enableRing()
        let probe = RingProbe(board: board, readout: plan.readout)

        // The relaxation goes first: it is the measurement most sensitive to the slow gain
        // drift, which has had the least time to wander at the start.

        progress("relaxation")
        let response = try probe.squareWaveResponse(
            highVolts: plan.relaxationVolts, lowVolts: plan.relaxationStartVolts,
            highSamples: relaxationHighSamples, lowSamples: relaxationLowSamples, cycles: relaxationCycles)
        guard let tauSamples = RelaxationFit.timeConstantSamples(response: response, highSamples: relaxationHighSamples)
        else { throw Failure(description: "the step response had no decaying edge to fit") }

        progress("threshold")
        let threshold = try ThresholdSearch(range: plan.thresholdSearchRange).run(probe)

        progress("noise floor")
        let floor = try probe.meanPower(atVolts: plan.noiseFloorVolts, settleSamples: 1000, samples: noiseFloorSamples)

        progress("saturation")
        let saturated = try probe.meanPower(
            atVolts: plan.saturationVolts, settleSamples: 1000, samples: saturationSamples)

        return Result(
            thresholdVolts: threshold.thresholdVolts,
            relaxationSeconds: tauSamples * board.sampleRate.periodSeconds,
            noiseFloorPower: floor, saturationPower: saturated)
    }
}
