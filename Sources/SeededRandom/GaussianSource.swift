import RealModule

/// Standard normal deviates from a seeded xoshiro256** stream by the ziggurat method
/// (Marsaglia & Tsang 2000, 128 layers). About 99 % of draws take the fast path: one
/// generator call, one table compare and one multiply, with no logarithm or square root,
/// which is what lets the twin spend ~50 ns per integration substep.
public struct GaussianSource: @unchecked Sendable {  // the table pointers are immutable and never freed
    /// The uniform stream the deviates are made from.
    public var uniform: Xoshiro256StarStar
    @usableFromInline let tables: ZigguratTables.Pointers

    /// A source whose draws are fixed by `seed` (and `stream`, for independent sub-streams).
    public init(seed: UInt64, stream: UInt64 = 0) {
        uniform = Xoshiro256StarStar(seed: seed, stream: stream)
        tables = ZigguratTables.shared.pointers
    }

    /// One N(0, 1) deviate.
    @inlinable @inline(__always)
    public mutating func next() -> Double {
        let bits = uniform.next()
        // Upper 32 bits as a signed integer: sign and magnitude; lowest 7 bits pick the layer.
        let hz = Int64(Int32(truncatingIfNeeded: bits >> 32))
        let iz = Int(bits & 127)
        if hz.magnitude < tables.k[iz] {
            return Double(hz) * tables.w[iz]
        }
        return slowPath(hz: hz, iz: iz)
    }

    /// The wedge and tail cases (Marsaglia & Tsang's `nfix`).
    @usableFromInline @inline(never)
    mutating func slowPath(hz initialHz: Int64, iz initialIz: Int) -> Double {
        var hz = initialHz
        var iz = initialIz
        while true {
            let x = Double(hz) * tables.w[iz]
            if iz == 0 {
                // Tail beyond r: Marsaglia's exponential rejection for the normal tail.
                var tailX = 0.0
                var tailY = 0.0
                repeat {
                    tailX = -Double.log(uniform.nextOpenUnitInterval()) / ZigguratTables.r
                    tailY = -Double.log(uniform.nextOpenUnitInterval())
                } while tailY + tailY < tailX * tailX
                return hz > 0 ? ZigguratTables.r + tailX : -ZigguratTables.r - tailX
            }
            // Wedge: accept under the density curve.
            if tables.f[iz] + uniform.nextUnitInterval() * (tables.f[iz - 1] - tables.f[iz]) < Double.exp(-0.5 * x * x)
            {
                return x
            }
            let bits = uniform.next()
            hz = Int64(Int32(truncatingIfNeeded: bits >> 32))
            iz = Int(bits & 127)
            if hz.magnitude < tables.k[iz] {
                return Double(hz) * tables.w[iz]
            }
        }
    }
}

/// The ziggurat's layer tables, built once per process and shared read-only. The hot path
/// reads them through raw pointers: no bounds checks, no reference counting.
@usableFromInline
final class ZigguratTables: @unchecked Sendable {  // written once in init, then read-only
    /// Start of the tail: the x-coordinate of the base layer's right edge.
    static let r = 3.442619855899
    /// The common area of every layer (and of the base layer with its tail).
    static let layerArea = 9.91256303526217e-3

    static let shared = ZigguratTables()

    @usableFromInline
    struct Pointers {
        /// Accept |hz| below k[i] at once (the layer lies wholly under the curve there).
        @usableFromInline let k: UnsafePointer<UInt64>
        /// Scale from the 32-bit integer to x in layer i.
        @usableFromInline let w: UnsafePointer<Double>
        /// Density exp(−x²/2) at each layer's right edge.
        @usableFromInline let f: UnsafePointer<Double>
    }

    /// The tables; allocated once for the life of the process (the singleton is never freed).
    let pointers: Pointers

    private init() {
        let m1 = 2_147_483_648.0  // 2^31
        var k = [UInt64](repeating: 0, count: 128)
        var w = [Double](repeating: 0, count: 128)
        var f = [Double](repeating: 0, count: 128)
        var dn = Self.r
        var tn = dn
        let q = Self.layerArea / Double.exp(-0.5 * dn * dn)
        k[0] = UInt64((dn / q) * m1)
        k[1] = 0
        w[0] = q / m1
        w[127] = dn / m1
        f[0] = 1
        f[127] = Double.exp(-0.5 * dn * dn)
        for i in stride(from: 126, through: 1, by: -1) {
            dn = (-2 * Double.log(Self.layerArea / dn + Double.exp(-0.5 * dn * dn))).squareRoot()
            k[i + 1] = UInt64((dn / tn) * m1)
            tn = dn
            f[i] = Double.exp(-0.5 * dn * dn)
            w[i] = dn / m1
        }
        func permanentCopy<T>(_ values: [T]) -> UnsafePointer<T> {
            let storage = UnsafeMutablePointer<T>.allocate(capacity: values.count)
            storage.initialize(from: values, count: values.count)
            return UnsafePointer(storage)
        }
        pointers = Pointers(k: permanentCopy(k), w: permanentCopy(w), f: permanentCopy(f))
    }
}
