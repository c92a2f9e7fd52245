import ReservoirHAL

/// Finds the drive voltage at which the ring starts to auto-oscillate (loop gain G = 1).
///
/// Above threshold the mean power is P = (G − 1)/β and G is locally linear in the drive, so
/// P is a line in V that crosses zero at the threshold. The search sweeps coarsely for the
/// first drive giving clearly saturated power, sweeps finely around it, fits a line through
/// the points with `fitPowerRange` (above the noise-rounded knee, below strong curvature of
/// the attenuator), and returns its zero crossing.
public struct ThresholdSearch {
    /// The drive range searched.
    public var range: ClosedRange<Volts>
    /// Step of the coarse sweep.
    public var coarseStep = Volts(0.025)
    /// Step of the fine sweep.
    public var fineStep = Volts(0.004)
    /// Powers used in the line fit.
    public var fitPowerRange: ClosedRange<Double> = 0.01...0.06
    /// Samples discarded after each drive change, and averaged per point.
    public var settleSamples = 500
    /// Samples averaged per point of the fine sweep.
    public var fineSamples = 8000

    /// A search over `range`.
    public init(range: ClosedRange<Volts>) { self.range = range }

    /// The outcome: the threshold, and the fitted slope dP/dV.
    public struct Result: Sendable {
        public var thresholdVolts: Volts
        public var powerPerVolt: Double
    }

    /// Why a search found nothing.
    public struct NotFound: Error, CustomStringConvertible {
        public var description: String
    }

    /// Runs the search with `probe`; the ring must be enabled.
    public func run(_ probe: RingProbe) throws -> Result {
        var onset: Volts?
        var volts = range.lowerBound
        while volts <= range.upperBound {
            if try probe.meanPower(atVolts: volts, settleSamples: settleSamples, samples: 2000)
                > fitPowerRange.lowerBound * 2
            {
                onset = volts
                break
            }
            volts = volts + coarseStep
        }
        guard let onset else {
            throw NotFound(
                description: "the ring did not oscillate anywhere in \(range.lowerBound)...\(range.upperBound)")
        }
        var points: [(volts: Double, power: Double)] = []
        var fine = (onset - 2.5 * coarseStep).clamped(to: range)
        let end = (onset + 3 * coarseStep).clamped(to: range)
        while fine <= end {
            let power = try probe.meanPower(atVolts: fine, settleSamples: settleSamples, samples: fineSamples)
            if fitPowerRange.contains(power) { points.append((fine.value, power)) }
            fine = fine + fineStep
        }
        guard points.count >= 3 else {
            throw NotFound(description: "only \(points.count) points above threshold had power in \(fitPowerRange)")
        }
        let n = Double(points.count)
        let meanV = points.map(\.volts).reduce(0, +) / n
        let meanP = points.map(\.power).reduce(0, +) / n
        var sxy = 0.0
        var sxx = 0.0
        for point in points {
            sxy += (point.volts - meanV) * (point.power - meanP)
            sxx += (point.volts - meanV) * (point.volts - meanV)
        }
        let slope = sxy / sxx
        return Result(thresholdVolts: Volts(meanV - meanP / slope), powerPerVolt: slope)
    }
}
