/// xoshiro256** (Blackman & Vigna 2018): a fast 64-bit generator with 256 bits of state,
/// seeded through SplitMix64 so that nearby seeds give unrelated streams.
public struct Xoshiro256StarStar: RandomNumberGenerator, Sendable {
    @usableFromInline var s0: UInt64
    @usableFromInline var s1: UInt64
    @usableFromInline var s2: UInt64
    @usableFromInline var s3: UInt64

    /// A generator whose whole stream is fixed by `seed`.
    public init(seed: UInt64) {
        var splitMix = SplitMix64(state: seed)
        s0 = splitMix.next()
        s1 = splitMix.next()
        s2 = splitMix.next()
        s3 = splitMix.next()
    }

    /// A generator for the independent sub-stream `stream` of `seed` (for example one per
    /// noise source), so adding a source does not shift the draws of the others.
    public init(seed: UInt64, stream: UInt64) {
        var mixer = SplitMix64(state: seed ^ (stream &* 0xD1B5_4A32_D192_ED03))
        self.init(seed: mixer.next())
    }

    /// The next 64 random bits.
    @inlinable @inline(__always)
    public mutating func next() -> UInt64 {
        let result = rotateLeft(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotateLeft(s3, 45)
        return result
    }

    /// A uniform double in [0, 1) with 53 random bits.
    @inlinable @inline(__always)
    public mutating func nextUnitInterval() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// A uniform double in (0, 1], safe to take the logarithm of.
    @inlinable @inline(__always)
    public mutating func nextOpenUnitInterval() -> Double {
        Double((next() >> 11) + 1) * 0x1.0p-53
    }

    @inlinable @inline(__always)
    func rotateLeft(_ x: UInt64, _ k: UInt64) -> UInt64 {
        (x << k) | (x >> (64 - k))
    }
}

/// SplitMix64 (Steele, Lea & Flood 2014), used only to expand a seed into generator state.
struct SplitMix64 {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A generator's position in its stream, for a checkpoint that must continue it exactly.
extension Xoshiro256StarStar: Codable {
    public init(from decoder: any Decoder) throws {
        var words = try decoder.unkeyedContainer()
        s0 = try words.decode(UInt64.self)
        s1 = try words.decode(UInt64.self)
        s2 = try words.decode(UInt64.self)
        s3 = try words.decode(UInt64.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var words = encoder.unkeyedContainer()
        for word in [s0, s1, s2, s3] { try words.encode(word) }
    }
}
