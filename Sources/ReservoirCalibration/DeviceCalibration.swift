import RealModule
import ReservoirHAL

/// A measured value with its standard uncertainty and unit.
public struct Estimate: Sendable, Equatable, Codable {
    public var value: Double
    public var uncertainty: Double
    public var unit: String

    public init(_ value: Double, uncertainty: Double, unit: String) {
        self.value = value
        self.uncertainty = uncertainty
        self.unit = unit
    }
}

/// One point of the static transfer curve: the detector's mean reading with the DAC held at a
/// drive, approached from below (the up sweep) and from above (the down sweep).
public struct TransferPoint: Sendable, Equatable, Codable {
    public var driveVolts: Double
    public var upVolts: Double
    public var downVolts: Double
}

/// Everything calibration learns about a device, measured through its `Board` alone.
public struct DeviceCalibrationResult: Sendable {
    /// ADC reading with the amplifier disabled (the converter's offset plus the detector's
    /// dark output), and the standard deviation of one reading there (the noise floor).
    public var adcOffsetVolts: Estimate
    public var noiseFloorVolts: Estimate
    /// The static transfer curve, up and down.
    public var transfer: [TransferPoint]
    /// Largest |up − down| over the curve.
    public var hysteresisVolts: Double
    /// The DAC request at which the ring starts to oscillate.
    public var thresholdVolts: Estimate
    /// ADC samples between a DAC sample and the first ADC sample that sees it.
    public var latencySamples: Int
    /// Relaxation time of the detected power after a small step just below threshold, and the
    /// drive it was measured at.
    /// Nil when the step response had no edge the fit could resolve.
    public var relaxationSeconds: Estimate?
    public var relaxationDriveVolts: Double
    /// The operating point (docs/calibration.md has the rule).
    public var biasVolts: Double
    public var spanVolts: Double
    /// d(reading)/d(drive) at the operating point, volts per volt.
    public var transferSlope: Estimate
    /// The reading's standard deviation at the operating point over one node's samples: the
    /// noise a PGT loss inherits (its σ calibration starts here).
    public var stateNoiseVolts: Estimate
    /// The spread of the drive loop's node states over repeated evaluations of one input
    /// sequence (normalized state units), and the states' own spread: the noise a PGT loss
    /// inherits, for its σ calibration.
    public var evaluationNoise: Estimate
    public var evaluationSignal: Double
    /// The reference reading at the operating point at the start and the end of the run.
    public var referenceVolts: Estimate
    public var driftVolts: Double
}

/// The calibration routines, each against any `Board`; `run` does them all in order and
/// leaves the board in its safe state on every path.
public struct DeviceCalibration {
    /// Drive step of the transfer sweep.
    public var sweepStepVolts = 0.02
    /// Samples discarded after each drive change, and averaged per point.
    public var settleSamples = 2_000
    public var pointSamples = 4_000
    /// Samples for the offset and the noise floor.
    public var baselineSamples = 40_000
    /// The operating-point rule: V_bias = V_threshold + `biasAboveThreshold`, V_span fixed, and
    /// V_bias − V_span kept at least `driftMarginVolts` above threshold (docs/calibration.md).
    public var biasAboveThresholdVolts = 0.235
    public var spanVolts = 0.15
    public var driftMarginVolts = 0.05
    /// Relaxation: measured `relaxationBelowThresholdVolts` below threshold after a step from
    /// twice as far below.
    public var relaxationBelowThresholdVolts = 0.015
    public var relaxationCycles = 40_000
    /// Where the ring's noise is sampled for the offset when the dark reading is clipped.
    public var noiseProbeBelowThresholdVolts = 0.015

    public init() {}

    /// A routine that produced no number.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Runs every routine; `progress` hears each stage's name as it starts.
    public func run(board: Board, progress: (String) -> Void = { _ in }) throws -> DeviceCalibrationResult {
        defer { try? board.enterSafeState() }
        let probe = RingProbe(rawReadingsOf: board)

        progress("offset and noise floor (amplifier disabled)")
        try board.enterSafeState()
        let dark = try probe.readingStatistics(
            atVolts: board.wiring.safeVolts, settleSamples: settleSamples, samples: baselineSamples)
        let noise = Estimate(
            dark.standardDeviation, uncertainty: dark.standardDeviation / Double(2 * dark.count).squareRoot(),
            unit: "V")

        try board.enableRing()
        progress("static transfer, up and down")
        let transfer = try sweep(probe)
        let hysteresis = transfer.map { abs($0.upVolts - $0.downVolts) }.max() ?? 0

        let (offset, threshold) = try offsetAndThreshold(probe, dark: dark, transfer: transfer, progress: progress)

        let range = board.wiring.driveRange
        var bias = threshold.value + biasAboveThresholdVolts
        bias = min(bias, range.upperBound.value - spanVolts)
        guard bias - spanVolts >= threshold.value + driftMarginVolts else {
            throw Failure(
                description:
                    "no operating point: a threshold at \(threshold.value) V leaves no room for a \(spanVolts) V span "
                    + "and a \(driftMarginVolts) V drift margin below the drive limit \(range.upperBound.value) V")
        }

        progress("reference reading")
        let before = try probe.readingStatistics(atVolts: Volts(bias), settleSamples: settleSamples, samples: 20_000)

        progress("latency (PRBS)")
        let latency = try LatencyMeasurement().run(
            board: board, centerVolts: Volts(bias), amplitudeVolts: Volts(spanVolts / 2))

        progress("relaxation below threshold")
        let relaxationVolts = threshold.value - relaxationBelowThresholdVolts
        let highSamples = 40
        let response = try probe.squareWaveResponse(
            highVolts: Volts(relaxationVolts), lowVolts: Volts(relaxationVolts - relaxationBelowThresholdVolts),
            highSamples: highSamples, lowSamples: 12, cycles: relaxationCycles)
        // A secondary figure: when the edge cannot be resolved (too fast for the sample rate, or
        // buried under a clipped offset) the calibration says so instead of failing.
        let relaxation = RelaxationFit.timeConstantSamples(response: response, highSamples: highSamples).map { tau in
            Estimate(
                tau * board.sampleRate.periodSeconds, uncertainty: 0.05 * tau * board.sampleRate.periodSeconds,
                unit: "s")
        }

        progress("transfer slope at the operating point")
        let slope = try localSlope(probe, at: bias, halfWidth: 0.02)

        progress("state noise at the operating point")
        let state = try probe.readingStatistics(atVolts: Volts(bias), settleSamples: settleSamples, samples: 20_000)

        progress("evaluation noise (repeated drive-loop runs of one input)")
        let evaluation = try EvaluationNoise().run(
            board: board,
            operatingPoint: BoardDescription.OperatingPoint(
                biasVolts: Volts(bias), spanVolts: Volts(spanVolts), latencySamples: latency.latencySamples,
                feedback: board.wiring.operatingPoint?.feedback ?? 0))
        try board.enableRing()

        progress("drift check")
        let after = try probe.readingStatistics(atVolts: Volts(bias), settleSamples: settleSamples, samples: 20_000)

        return DeviceCalibrationResult(
            adcOffsetVolts: offset, noiseFloorVolts: noise, transfer: transfer, hysteresisVolts: hysteresis,
            thresholdVolts: threshold, latencySamples: latency.latencySamples, relaxationSeconds: relaxation,
            relaxationDriveVolts: relaxationVolts, biasVolts: bias, spanVolts: spanVolts, transferSlope: slope,
            stateNoiseVolts: Estimate(
                state.standardDeviation, uncertainty: state.standardDeviation / Double(2 * state.count).squareRoot(),
                unit: "V"),
            evaluationNoise: evaluation.noise, evaluationSignal: evaluation.signal,
            referenceVolts: Estimate(before.mean, uncertainty: before.standardError, unit: "V"),
            driftVolts: after.mean - before.mean)
    }

    /// The transfer curve over the board's drive range, up then down.
    public func sweep(_ probe: RingProbe) throws -> [TransferPoint] {
        let range = probe.board.wiring.driveRange
        let count = Int(((range.upperBound.value - range.lowerBound.value) / sweepStepVolts).rounded(.down)) + 1
        let drives = (0..<count).map { range.lowerBound.value + Double($0) * sweepStepVolts }
        var up: [Double] = []
        for drive in drives {
            up.append(
                try probe.readingStatistics(atVolts: Volts(drive), settleSamples: settleSamples, samples: pointSamples)
                    .mean)
        }
        var down = [Double](repeating: 0, count: count)
        for index in stride(from: count - 1, through: 0, by: -1) {
            down[index] =
                try probe.readingStatistics(
                    atVolts: Volts(drives[index]), settleSamples: settleSamples, samples: pointSamples
                ).mean
        }
        return (0..<count).map { TransferPoint(driveVolts: drives[$0], upVolts: up[$0], downVolts: down[$0]) }
    }

    /// The slope of a line through five readings across `at ± halfWidth`.
    public func localSlope(_ probe: RingProbe, at center: Double, halfWidth: Double) throws -> Estimate {
        let drives = (0..<5).map { center + halfWidth * (Double($0) / 2 - 1) }
        var readings: [ReadingStatistics] = []
        for drive in drives {
            readings.append(
                try probe.readingStatistics(atVolts: Volts(drive), settleSamples: settleSamples, samples: 20_000))
        }
        let fit = LineFit(x: drives, y: readings.map(\.mean))
        let errors = readings.map(\.standardError)
        let meanError = errors.reduce(0, +) / Double(errors.count)
        // σ(slope) = σ_y/√Σ(x − x̄)², σ_y the larger of the residual scatter and the means' errors.
        let spread = drives.reduce(0) { $0 + ($1 - center) * ($1 - center) }.squareRoot()
        return Estimate(fit.slope, uncertainty: max(fit.residualStandardDeviation, meanError) / spread, unit: "V/V")
    }
}

/// Ordinary least squares y = a + b·x.
public struct LineFit: Sendable {
    public var intercept: Double
    public var slope: Double
    public var residualStandardDeviation: Double

    public init(x: [Double], y: [Double]) {
        precondition(x.count == y.count && x.count >= 2)
        let n = Double(x.count)
        let meanX = x.reduce(0, +) / n
        let meanY = y.reduce(0, +) / n
        var sxy = 0.0
        var sxx = 0.0
        for (xi, yi) in zip(x, y) {
            sxy += (xi - meanX) * (yi - meanY)
            sxx += (xi - meanX) * (xi - meanX)
        }
        slope = sxy / sxx
        intercept = meanY - slope * meanX
        var residuals = 0.0
        for (xi, yi) in zip(x, y) {
            let r = yi - (intercept + slope * xi)
            residuals += r * r
        }
        residualStandardDeviation = x.count > 2 ? (residuals / (n - 2)).squareRoot() : 0
    }
}

/// The figures `ringlab calibrate --verify` re-measures.
public struct Verification: Sendable {
    public var adcOffsetVolts: Estimate
    public var thresholdVolts: Estimate
    public var latencySamples: Int
    public var transferSlope: Estimate
}

extension DeviceCalibration {
    /// Re-measures what the drive loop depends on — ADC offset, threshold, latency, slope at the
    /// recorded operating point — reusing the recorded transfer curve to place the threshold's
    /// fine sweep instead of sweeping the whole range again. Leaves the board safe.
    public func verify(board: Board, recorded: CalibrationRecord, progress: (String) -> Void = { _ in }) throws
        -> Verification
    {
        defer { try? board.enterSafeState() }
        let probe = RingProbe(rawReadingsOf: board)
        progress("offset (amplifier disabled)")
        try board.enterSafeState()
        let dark = try probe.readingStatistics(
            atVolts: board.wiring.safeVolts, settleSamples: settleSamples, samples: baselineSamples)
        try board.enableRing()
        let (offset, threshold) = try offsetAndThreshold(
            probe, dark: dark, transfer: recorded.transferCurve, progress: progress)
        progress("latency (PRBS)")
        let latency = try LatencyMeasurement().run(
            board: board, centerVolts: Volts(recorded.biasVolts), amplitudeVolts: Volts(recorded.spanVolts / 2))
        progress("transfer slope")
        let slope = try localSlope(probe, at: recorded.biasVolts, halfWidth: 0.02)
        return Verification(
            adcOffsetVolts: offset, thresholdVolts: threshold, latencySamples: latency.latencySamples,
            transferSlope: slope)
    }

    /// The threshold against the dark mean; when that mean is within a few noise widths of code
    /// 0 the unipolar ADC has clipped it (a negative offset reads as 0), so the offset comes
    /// from the ring's noise instead and the threshold is refitted against it. The ring must
    /// be enabled; `transfer` places the threshold's fine sweep.
    func offsetAndThreshold(
        _ probe: RingProbe, dark: ReadingStatistics, transfer: [TransferPoint], progress: (String) -> Void
    ) throws -> (offset: Estimate, threshold: Estimate) {
        progress("threshold")
        let threshold = try ThresholdFromTransfer().run(probe: probe, transfer: transfer, offsetVolts: dark.mean)
        let lsb = probe.board.wiring.adc.format.leastSignificantBit.value
        guard dark.mean < 3 * dark.standardDeviation + 2 * lsb else {
            return (Estimate(dark.mean, uncertainty: dark.standardError, unit: "V"), threshold)
        }
        progress("offset from the ring's noise below threshold")
        let offset = try OffsetFromRingNoise().run(
            probe: probe, driveVolts: Volts(threshold.value - noiseProbeBelowThresholdVolts))
        return (offset, try ThresholdFromTransfer().run(probe: probe, transfer: transfer, offsetVolts: offset.value))
    }
}
