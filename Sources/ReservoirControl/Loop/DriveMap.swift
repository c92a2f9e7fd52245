import RealModule
import ReservoirHAL

/// How a node's activation becomes the voltage the DAC holds for it (docs/drive-loop.md):
///
///     v = clamp(V_bias + V_span·tanh(a), V_min, V_max)
///
/// tanh keeps any activation inside V_bias ± V_span, and the clamp keeps a badly chosen
/// operating point inside the board's drive range.
public struct DriveMap: Sendable, Equatable {
    public var biasVolts: Volts
    public var spanVolts: Volts
    public var range: ClosedRange<Volts>

    public init(biasVolts: Volts, spanVolts: Volts, range: ClosedRange<Volts>) {
        self.biasVolts = biasVolts
        self.spanVolts = spanVolts
        self.range = range
    }

    /// The volts for activation `a`.
    @inline(__always)
    public func volts(activation a: Double) -> Volts {
        Volts(biasVolts.value + spanVolts.value * Double.tanh(a)).clamped(to: range)
    }

    /// A constant level (a range-probe level or the bias), clamped the same way.
    @inline(__always)
    public func level(_ volts: Volts) -> Volts { volts.clamped(to: range) }
}
