/// The normalization of node readings (docs/drive-loop.md): every stream starts with a range
/// probe, `periodsPerLevel` periods at each of V_bias − V_span, V_bias and V_bias + V_span,
/// whose mean node readings (after `settlePeriods` of each) are v_lo, v_0 and v_hi; a reading v
/// then maps to
///
///     x̂ = ½ + (v − v_0)/(v_hi − v_lo)
///
/// so that the feedback term is centred exactly where the drive is (x̂ = ½ at a = 0) even where
/// the detector's response is curved. A value: no allocation.
public struct RangeNormalizer: Sendable {
    public static let levels = 3
    public static let periodsPerLevel = 12
    public static let settlePeriods = 4
    /// Periods of a whole probe.
    public static let probePeriods = levels * periodsPerLevel

    private var sums = (low: 0.0, centre: 0.0, high: 0.0)
    public private(set) var baseline = 0.0
    public private(set) var inverseFullScale = 1.0
    /// Whether a probe has completed since the last reset.
    public private(set) var isReady = false

    public init() {}

    /// Which level probe period `period` drives: −1 (low), 0 (bias), +1 (high).
    public static func level(ofProbePeriod period: Int) -> Int { period / periodsPerLevel - 1 }

    /// Forgets the normalization (a new stream: the probe comes first).
    public mutating func reset() { isReady = false }

    /// Starts a probe's sums.
    public mutating func beginProbe() { sums = (0, 0, 0) }

    /// Adds the mean node reading of probe period `period`; after the probe's last period, sets
    /// the normalization.
    public mutating func add(meanReading mean: Double, probePeriod period: Int) {
        guard period % Self.periodsPerLevel >= Self.settlePeriods else { return }
        switch Self.level(ofProbePeriod: period) {
        case -1: sums.low += mean
        case 0: sums.centre += mean
        default: sums.high += mean
        }
        if period == Self.probePeriods - 1 {
            let used = Double(Self.periodsPerLevel - Self.settlePeriods)
            baseline = sums.centre / used
            let span = (sums.high - sums.low) / used
            // A ring that does not respond (a failed amplifier) keeps a scale of 1/V rather than
            // dividing by nothing; its states are then flat, which the readout will show.
            inverseFullScale = abs(span) > 1e-6 ? 1 / span : 1
            isReady = true
        }
    }

    /// x̂ for a mean reading v.
    @inline(__always)
    public func normalized(_ v: Double) -> Double { 0.5 + (v - baseline) * inverseFullScale }
}
