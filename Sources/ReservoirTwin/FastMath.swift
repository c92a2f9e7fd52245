import RealModule

/// Inline e^x for the twin's inner loop, where three libm calls per substep were a third of
/// the run time. Accurate to a few ulp (the tests compare it with libm over the twin's range).
///
/// e^x = 2^m · 2^{j/64} · e^r with n = round(64·x/ln 2), j = n mod 64, m = ⌊n/64⌋ and
/// r = x − n·ln2/64 ∈ [−ln2/128, ln2/128]; 2^{j/64} from a 64-entry table, e^r from its Taylor
/// polynomial to degree 5 (remainder |r|^6/720 < 4e-17), evaluated in Estrin's form so the
/// dependency chain is short; 2^m by adding m to the exponent bits.
public struct FastExp: @unchecked Sendable {  // the table is immutable
    // Written once by the lazy initializer, then only read.
    nonisolated(unsafe) private static let table: UnsafePointer<Double> = {
        let values = UnsafeMutablePointer<Double>.allocate(capacity: 64)
        for j in 0..<64 { values[j] = Double.exp2(Double(j) / 64) }
        return UnsafePointer(values)  // process lifetime: never freed
    }()

    private let table: UnsafePointer<Double>

    /// An evaluator holding the shared table.
    public init() { table = Self.table }

    private static let scale = 64 / 0.693147180559945309417  // 64/ln 2
    private static let stepHigh = 0.693147180369123816490 / 64  // ln2/64 split so n·stepHigh is exact
    private static let stepLow = 1.90821492927058770002e-10 / 64

    /// e^x for x in [−700, 700] (clamped outside it).
    @inline(__always)
    public func callAsFunction(_ x: Double) -> Double {
        let clamped = min(max(x, -700), 700)
        let n = roundedToNearest(clamped * Self.scale)
        let r = (clamped - n * Self.stepHigh) - n * Self.stepLow
        let r2 = r * r
        let polynomial = (1 + r) + r2 * ((0.5 + r * (1.0 / 6)) + r2 * (1.0 / 24 + r * (1.0 / 120)))
        let k = Int64(n)
        let scaled = table[Int(k & 63)] * polynomial
        return Double(bitPattern: scaled.bitPattern &+ (UInt64(bitPattern: k >> 6) << 52))
    }
}

/// 1.5·2^52: adding and subtracting it rounds a double to the nearest integer (ties to even)
/// with two additions, where `rounded()` is a libm call on baseline x86-64. Valid for |x| < 2^51.
@inline(__always)
func roundedToNearest(_ x: Double) -> Double {
    (x + 6_755_399_441_055_744.0) - 6_755_399_441_055_744.0
}
