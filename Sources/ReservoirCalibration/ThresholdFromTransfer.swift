import RealModule
import ReservoirHAL

/// The auto-oscillation threshold from raw detector readings, without a detector model.
///
/// Above threshold the mean power is P = (G − 1)/β with G smooth in the drive, and the diode's
/// output is a smooth increasing function of P that is 0 at P = 0; so the reading r(V) − r₀
/// (r₀ the dark reading) is a smooth curve through zero at the threshold V_th. Close to
/// threshold, noise rounds the knee (the ring's noise-driven power grows as 1/(1 − G)), so the
/// fit uses the readings between `fitFractions` of the full swing above r₀ — clear of the knee,
/// before the diode and the attenuator curve far — fits r − r₀ = a + b·u + c·u² (u = V − V̄), and
/// returns the root nearest the fitted points: the extrapolation of the mean-field branch to
/// zero power, which is where G = 1.
public struct ThresholdFromTransfer {
    /// Part of the swing (max reading − dark reading) used in the fit.
    public var fitFractions: ClosedRange<Double> = 0.05...0.3
    /// Fine sweep step and half-width around the coarse onset.
    public var fineStepVolts = 0.004
    public var fineHalfWidthVolts = 0.08
    /// Samples discarded after each drive change, and averaged per point.
    public var settleSamples = 2_000
    public var samples = 10_000

    public init() {}

    public struct NotFound: Error, CustomStringConvertible {
        public var description: String
    }

    /// Refines the threshold around the up sweep's onset; the ring must be enabled.
    public func run(probe: RingProbe, transfer: [TransferPoint], offsetVolts: Double) throws -> Estimate {
        guard let top = transfer.map(\.upVolts).max(), top - offsetVolts > 0.01 else {
            throw NotFound(
                description: "the detector never rose above its dark reading: no oscillation in the drive range")
        }
        let swing = top - offsetVolts
        let low = offsetVolts + fitFractions.lowerBound * swing
        let high = offsetVolts + fitFractions.upperBound * swing
        guard let onset = transfer.first(where: { $0.upVolts > low }) else {
            throw NotFound(description: "no reading above \(low) V in the up sweep")
        }
        var points: [(x: Double, y: Double)] = []
        let range = probe.board.wiring.driveRange
        var drive = max(onset.driveVolts - fineHalfWidthVolts, range.lowerBound.value)
        let end = min(onset.driveVolts + 2 * fineHalfWidthVolts, range.upperBound.value)
        while drive <= end {
            let reading = try probe.readingStatistics(
                atVolts: Volts(drive), settleSamples: settleSamples, samples: samples
            ).mean
            if reading >= low && reading <= high { points.append((drive, reading - offsetVolts)) }
            if reading > high { break }
            drive += fineStepVolts
        }
        guard points.count >= 5 else {
            throw NotFound(description: "only \(points.count) readings fell in the fitted part of the curve")
        }
        let fit = QuadraticFit(points)
        guard let root = fit.root(nearest: points[0].x) else {
            throw NotFound(description: "the fitted curve does not reach zero power")
        }
        // Uncertainty: the residual scatter over the slope at the root, over √n.
        let slope = fit.derivative(at: root)
        let uncertainty = fit.residualStandardDeviation / max(abs(slope), 1e-12) / Double(points.count).squareRoot()
        return Estimate(root, uncertainty: uncertainty, unit: "V")
    }
}

/// Least-squares y = a + b·u + c·u², u = x − x̄ (centring keeps the normal equations well
/// conditioned), solved by Cramer's rule on the 3×3 normal equations.
public struct QuadraticFit: Sendable {
    public var center: Double
    public var a: Double
    public var b: Double
    public var c: Double
    public var residualStandardDeviation: Double

    public init(_ points: [(x: Double, y: Double)]) {
        precondition(points.count >= 3)
        let n = Double(points.count)
        center = points.map(\.x).reduce(0, +) / n
        var s = [Double](repeating: 0, count: 5)  // Σu^k, k = 0…4
        var t = [Double](repeating: 0, count: 3)  // Σy·u^k, k = 0…2
        for point in points {
            let u = point.x - center
            var power = 1.0
            for k in 0..<5 {
                s[k] += power
                if k < 3 { t[k] += point.y * power }
                power *= u
            }
        }
        func determinant(_ m: [[Double]]) -> Double {
            m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
                + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
        }
        let matrix = [[s[0], s[1], s[2]], [s[1], s[2], s[3]], [s[2], s[3], s[4]]]
        let d = determinant(matrix)
        func replaced(_ column: Int) -> [[Double]] {
            var m = matrix
            for row in 0..<3 { m[row][column] = t[row] }
            return m
        }
        a = determinant(replaced(0)) / d
        b = determinant(replaced(1)) / d
        c = determinant(replaced(2)) / d
        var residuals = 0.0
        for point in points {
            let u = point.x - center
            let r = point.y - (a + b * u + c * u * u)
            residuals += r * r
        }
        residualStandardDeviation = points.count > 3 ? (residuals / (n - 3)).squareRoot() : 0
    }

    public func value(at x: Double) -> Double {
        let u = x - center
        return a + b * u + c * u * u
    }

    public func derivative(at x: Double) -> Double { b + 2 * c * (x - center) }

    /// The real root of the fitted curve nearest `x`.
    public func root(nearest x: Double) -> Double? {
        if abs(c) < 1e-15 * max(abs(b), 1) {
            return b == 0 ? nil : center - a / b
        }
        let discriminant = b * b - 4 * c * a
        guard discriminant >= 0 else { return nil }
        let q = -0.5 * (b + (b >= 0 ? 1 : -1) * discriminant.squareRoot())
        let roots = [q / c, a / q].map { $0 + center }
        return roots.min { abs($0 - x) < abs($1 - x) }
    }
}
