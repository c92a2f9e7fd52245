/// An electric potential in volts.
public struct Volts: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The value in volts.
    public var value: Double

    /// A potential of `value` volts.
    @inline(__always)
    public init(_ value: Double) { self.value = value }

    /// Zero volts.
    public static let zero = Volts(0)

    public static func < (lhs: Volts, rhs: Volts) -> Bool { lhs.value < rhs.value }
    public static func + (lhs: Volts, rhs: Volts) -> Volts { Volts(lhs.value + rhs.value) }
    public static func - (lhs: Volts, rhs: Volts) -> Volts { Volts(lhs.value - rhs.value) }
    public static func * (lhs: Double, rhs: Volts) -> Volts { Volts(lhs * rhs.value) }

    /// The nearest value inside `range`.
    @inline(__always)
    public func clamped(to range: ClosedRange<Volts>) -> Volts {
        Volts(Swift.min(Swift.max(value, range.lowerBound.value), range.upperBound.value))
    }

    public var description: String { "\(value) V" }
}

/// A frequency in hertz.
public struct Hertz: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The value in hertz.
    public var value: Double

    /// A frequency of `value` hertz.
    public init(_ value: Double) { self.value = value }

    public static func < (lhs: Hertz, rhs: Hertz) -> Bool { lhs.value < rhs.value }

    /// One period, 1/f, in seconds.
    public var periodSeconds: Double { 1 / value }

    /// The number of whole samples at this rate that fit in `duration` (rounded down).
    public func samples(in duration: Duration) -> SampleCount {
        SampleCount(Int((duration.seconds * value).rounded(.down)))
    }

    /// The time `count` samples take at this rate.
    public func duration(of count: SampleCount) -> Duration {
        .seconds(Double(count.value) / value)
    }

    public var description: String { "\(value) Hz" }
}

/// A number of converter samples (one per tick of the shared sample clock).
public struct SampleCount: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The number of samples.
    public var value: Int

    /// `value` samples.
    public init(_ value: Int) { self.value = value }

    public static func < (lhs: SampleCount, rhs: SampleCount) -> Bool { lhs.value < rhs.value }

    public var description: String { "\(value) samples" }
}

extension Duration {
    /// The duration in seconds as a floating-point number.
    public var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) * 1e-18
    }

    /// The duration in whole nanoseconds (truncated).
    public var nanoseconds: Int64 {
        let parts = components
        return parts.seconds * 1_000_000_000 + parts.attoseconds / 1_000_000_000
    }
}
