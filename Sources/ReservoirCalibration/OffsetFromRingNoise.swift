import RealModule
import ReservoirHAL

/// The ADC offset from the ring's own noise just below threshold, for when the dark reading
/// cannot show it: a unipolar ADC clips a negative offset to code 0.
///
/// Below threshold the ring is a noise-driven amplifier whose field is complex Gaussian to
/// first order; with the saturation term its power has the Landau density
///   p(P) ∝ exp(−a·P − b·P²),  P ≥ 0,
/// (a = 2(1 − G)/(D·T_rt), b = β/(D·T_rt) for the model of docs/ring-twin.md: thermal
/// statistics, the tail pulled in by saturation). The detector is linear at these powers, so
/// the readings r = offset + k·P have a log-density that is a quadratic in r, cut off at
/// r = offset. A quadratic can be written from any cut-off point, so the shape alone does not
/// fix the offset; the normalisation does: the readings the ADC clips (below the lowest level
/// fitted) are exactly the mass of the fitted density between the offset and that level. So:
/// fit ln(count per code) with a quadratic above the clipped codes, then move the cut-off down
/// from the lowest fitted level until the fitted density's mass below it equals the clipped
/// fraction. For a pure exponential this is offset = x₀ + s·ln F(x₀).
public struct OffsetFromRingNoise {
    /// Readings collected.
    public var samples = 400_000
    /// Samples discarded after the drive change.
    public var settleSamples = 20_000
    /// Lowest level fitted, in ADC steps above zero (clear of the clipped codes).
    public var lowestLevelSteps = 3
    /// Fewest readings a code must hold to enter the fit.
    public var minimumBinCount = 200

    public init() {}

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Measures with the DAC held at `driveVolts` (just below threshold; the ring enabled).
    public func run(probe: RingProbe, driveVolts: Volts) throws -> Estimate {
        let board = probe.board
        let lsb = board.wiring.adc.format.leastSignificantBit.value
        let codes = board.wiring.adc.format.codeCount
        try board.dac.hold(driveVolts)
        let blockSize = probe.samplesPerBlock
        let stream = try board.adc.openStream(samplesPerBlock: blockSize)
        defer { stream.close() }
        let block = UnsafeMutableBufferPointer<Volts>.allocate(capacity: blockSize)
        defer { block.deallocate() }
        for _ in 0..<((settleSamples + blockSize - 1) / blockSize) { try stream.refill(block) }
        var histogram = [Int](repeating: 0, count: codes + 1)
        var total = 0
        for _ in 0..<max((samples + blockSize - 1) / blockSize, 1) {
            try stream.refill(block)
            for reading in block {
                histogram[min(max(Int((reading.value / lsb).rounded()), 0), codes)] += 1
                total += 1
            }
        }
        // Counts per code above the clipped ones, where each bin holds enough counts for its
        // logarithm to be meaningful (Poisson: relative error 1/√n).
        var points: [(x: Double, y: Double)] = []
        for code in lowestLevelSteps...codes where histogram[code] >= minimumBinCount {
            points.append((Double(code) * lsb, Double.log(Double(histogram[code]) / (Double(total) * lsb))))
        }
        guard points.count >= 6 else {
            throw Failure(
                description: "the ring's noise below threshold spans only \(points.count) ADC steps: too little to fit")
        }
        let density = QuadraticFit(points)
        // Clipped mass: the readings below the lowest fitted bin's lower edge.
        let lowest = (Double(lowestLevelSteps) - 0.5) * lsb
        let clipped = Double(histogram[0..<lowestLevelSteps].reduce(0, +)) / Double(total)
        // Integrate the fitted density downward from `lowest` in steps of LSB/50 until the mass
        // reaches the clipped fraction (trapezoids; the density is smooth on this scale).
        let step = lsb / 50
        var mass = 0.0
        var x = lowest
        var previous = Double.exp(density.value(at: x))
        let limit = lowest - 1.0  // a volt below: far beyond any offset a converter has
        while mass < clipped && x > limit {
            let next = Double.exp(density.value(at: x - step))
            let slice = 0.5 * (previous + next) * step
            if mass + slice >= clipped {
                x -= step * (clipped - mass) / slice
                mass = clipped
                break
            }
            mass += slice
            previous = next
            x -= step
        }
        guard mass >= clipped else {
            throw Failure(description: "the fitted noise density cannot account for the clipped readings")
        }
        let offset = x
        // Uncertainty: the residual scatter of the log-density, as a relative error of the
        // mass, over the density at the cut-off.
        let uncertainty =
            density.residualStandardDeviation / Double(points.count).squareRoot() * clipped
            / max(Double.exp(density.value(at: offset)), 1e-12)
        return Estimate(offset, uncertainty: uncertainty + lsb / 4, unit: "V")
    }
}
