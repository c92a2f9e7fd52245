import Foundation
import ReservoirControl
import ReservoirHAL

/// The ring as a static function of its drive, from the calibration's transfer curve: the node
/// state a drive a would give if the ring had no memory and no noise,
///
///     V(a) = clamp(V_bias + V_span·tanh a, V_min, V_max)
///     x̂(a) = ½ + (T(V(a)) − T(V_bias)) / (T(V_bias + V_span) − T(V_bias − V_span))
///
/// with T the measured static transfer (the mean of the up and down sweeps, linear between the
/// points) and x̂ the normalization the drive loop's range probe applies (`RangeNormalizer`).
/// Its derivative dx̂/da = T′(V)·V_span·(1 − tanh² a)/(T(V_b+V_s) − T(V_b−V_s)) (0 where the
/// clamp holds), T′ the central difference over ±`slopeHalfWidth` volts so that the reading
/// noise of single sweep points does not make the slope jump.
public struct StaticTransferCurve: Sendable {
    public let volts: [Double]
    public let readings: [Double]
    public let map: DriveMap
    public static let slopeHalfWidth = 0.04
    private let centre: Double
    private let inverseSpan: Double

    /// From (drive volts, reading volts) points of a sweep, in any order; throws unless at least
    /// two distinct drive levels span the map's bias ± span.
    public init(points: [(volts: Double, reading: Double)], map: DriveMap) throws {
        let sorted = points.sorted { $0.volts < $1.volts }
        let xs = sorted.map(\.volts)
        let ys = sorted.map(\.reading)
        guard xs.count >= 2, xs.first! < xs.last! else {
            throw RingTaskError(description: "a static transfer curve needs at least two drive levels; found \(xs.count)")
        }
        func reading(_ v: Volts) -> Double { Self.interpolate(map.level(v).value, xs, ys) }
        let high = reading(Volts(map.biasVolts.value + map.spanVolts.value))
        let low = reading(Volts(map.biasVolts.value - map.spanVolts.value))
        guard abs(high - low) > 1e-9 else {
            throw RingTaskError(description: "the static transfer curve is flat across V_bias ± V_span: no gradient to follow")
        }
        volts = xs
        readings = ys
        self.map = map
        centre = reading(map.biasVolts)
        inverseSpan = 1 / (high - low)
    }

    /// x̂(a) and dx̂/da.
    public func state(_ a: Double) -> (value: Double, derivative: Double) {
        let unclamped = map.biasVolts.value + map.spanVolts.value * Foundation.tanh(a)
        let v = map.volts(activation: a).value
        let reading = Self.interpolate(v, volts, readings)
        let value = 0.5 + (reading - centre) * inverseSpan
        guard v == unclamped else { return (value, 0) }
        let h = Self.slopeHalfWidth
        let slope = (Self.interpolate(v + h, volts, readings) - Self.interpolate(v - h, volts, readings)) / (2 * h)
        let t = Foundation.tanh(a)
        return (value, slope * map.spanVolts.value * (1 - t * t) * inverseSpan)
    }

    /// T(v), linear between the points and constant beyond them.
    static func interpolate(_ v: Double, _ xs: [Double], _ ys: [Double]) -> Double {
        if v <= xs[0] { return ys[0] }
        if v >= xs[xs.count - 1] { return ys[ys.count - 1] }
        var low = 0
        var high = xs.count - 1
        while high - low > 1 {
            let middle = (low + high) / 2
            if xs[middle] <= v { low = middle } else { high = middle }
        }
        let fraction = (v - xs[low]) / (xs[high] - xs[low])
        return ys[low] + fraction * (ys[high] - ys[low])
    }
}
