import RealModule

/// Inline e^x for inner loops (the twin's substeps, the network's activations), where libm calls
/// were a third of the run time. Accurate to a few ulp (tests compare it with libm).
///
/// e^x = 2^m · 2^{j/64} · e^r with n = round(64·x/ln 2), j = n mod 64, m = ⌊n/64⌋ and
/// r = x − n·ln2/64 ∈ [−ln2/128, ln2/128]; 2^{j/64} from a 64-entry table, e^r from its Taylor
/// polynomial to degree 5 (remainder |r|^6/720 < 4e-17), evaluated in Estrin's form so the
/// dependency chain is short; 2^m by adding m to the exponent bits.
public struct FastExp: @unchecked Sendable {  // the table is immutable
    // Written once by the lazy initializer, then only read.
    nonisolated(unsafe) static let sharedTable: UnsafePointer<Double> = {
        let values = UnsafeMutablePointer<Double>.allocate(capacity: 64)
        for j in 0..<64 { values[j] = Double.exp2(Double(j) / 64) }
        return UnsafePointer(values)  // process lifetime: never freed
    }()

    @usableFromInline let table: UnsafePointer<Double>

    /// An evaluator holding the shared table.
    public init() { table = Self.sharedTable }

    // Constants are literal expressions inside the inlinable body (folded by the compiler): a
    // static stored property would cost an accessor call in every client module. ln 2 is split
    // into a high part exact under multiplication by any n that occurs and a low remainder.

    /// e^x for x in [−700, 700] (clamped outside it).
    @inlinable @inline(__always)
    public func callAsFunction(_ x: Double) -> Double {
        let clamped = min(max(x, -700), 700)
        let n = roundedToNearest(clamped * (64 / 0.693147180559945309417))
        let r = (clamped - n * (0.693147180369123816490 / 64)) - n * (1.90821492927058770002e-10 / 64)
        let r2 = r * r
        let polynomial = (1 + r) + r2 * ((0.5 + r * (1.0 / 6)) + r2 * (1.0 / 24 + r * (1.0 / 120)))
        let k = Int64(n)
        let scaled = table[Int(k & 63)] * polynomial
        return Double(bitPattern: scaled.bitPattern &+ (UInt64(bitPattern: k >> 6) << 52))
    }
}

/// 1.5·2^52: adding and subtracting it rounds a double to the nearest integer (ties to even)
/// with two additions, where `rounded()` is a libm call on baseline x86-64. Valid for |x| < 2^51.
@inlinable @inline(__always)
public func roundedToNearest(_ x: Double) -> Double {
    (x + 6_755_399_441_055_744.0) - 6_755_399_441_055_744.0
}

extension FastExp {
    /// tanh x = (e^{2x} − 1)/(e^{2x} + 1) with the inline exponential; ±1 beyond |x| = 19.1
    /// (where tanh rounds to ±1). Near 0 the absolute error stays ~1e-16 (the relative error
    /// grows as 1e-16/|x|), which is what a network's sums see.
    @inlinable @inline(__always)
    public func tanh(_ x: Double) -> Double {
        if x > 19.1 { return 1 }
        if x < -19.1 { return -1 }
        let e = self(2 * x)
        return (e - 1) / (e + 1)
    }
}
