import SeededRandom

/// How perturbation directions z are drawn (docs/pgt.md).
public enum DirectionKind: Sendable, Equatable, Codable {
    /// z ~ N(0, I).
    case gaussian
    /// z_i = ±1 with equal probability.
    case rademacher
    /// A fraction of the coordinates non-zero, ±1/√fraction (unit variance per coordinate).
    case sparse(fraction: Double)
    /// The K directions of a step mutually orthogonal, each of norm √d (Gram–Schmidt on
    /// Gaussian draws), so their span is covered without overlap.
    case orthogonal

    /// "gaussian", "rademacher", "orthogonal" or "sparse:FRACTION" (0 < FRACTION ≤ 1); nil otherwise.
    public init?(parsing text: String) {
        switch text {
        case "gaussian": self = .gaussian
        case "rademacher": self = .rademacher
        case "orthogonal": self = .orthogonal
        default:
            guard text.hasPrefix("sparse:"), let fraction = Double(text.dropFirst(7)), fraction > 0, fraction <= 1 else {
                return nil
            }
            self = .sparse(fraction: fraction)
        }
    }
}

/// Directions as a pure function of (run seed, step, k): a run log then needs only the seeds
/// and the scalar differences to replay bit for bit (the MeZO trick).
public struct DirectionGenerator: Sendable {
    public let kind: DirectionKind
    public let seed: UInt64

    public init(kind: DirectionKind, seed: UInt64) {
        self.kind = kind
        self.seed = seed
    }

    /// Fills `directions` (k rows of d) with directions `firstRow ..< firstRow + k` of `step`.
    public func fill(
        step: Int, firstRow: Int = 0, count k: Int, dimension d: Int,
        into directions: UnsafeMutableBufferPointer<Double>
    ) {
        precondition(directions.count >= k * d)
        if case .orthogonal = kind { precondition(firstRow == 0, "orthogonal directions come as a whole step") }
        for row in 0..<k {
            let stream = UInt64(step) &* 1_000_003 &+ UInt64(firstRow + row)
            let z = UnsafeMutableBufferPointer(rebasing: directions[(row * d)..<((row + 1) * d)])
            switch kind {
            case .gaussian, .orthogonal:
                var source = GaussianSource(seed: seed, stream: stream)
                for i in 0..<d { z[i] = source.next() }
            case .rademacher:
                // 64 signs per draw: bit b of the word gives z = 2b − 1.
                var random = Xoshiro256StarStar(seed: seed, stream: stream)
                let base = z.baseAddress!
                var i = 0
                while i < d {
                    var bits = random.next()
                    let end = min(i + 64, d)
                    while i < end {
                        base[i] = Double(Int(bits & 1) &* 2 &- 1)
                        bits >>= 1
                        i += 1
                    }
                }
            case .sparse(let fraction):
                var random = Xoshiro256StarStar(seed: seed, stream: stream)
                let scale = 1 / fraction.squareRoot()
                for i in 0..<d {
                    let keep = random.nextUnitInterval() < fraction
                    let sign: Double = random.next() >> 63 == 1 ? 1 : -1
                    z[i] = keep ? sign * scale : 0
                }
            }
        }
        if case .orthogonal = kind { orthogonalize(directions, count: k, dimension: d) }
    }

    /// Modified Gram–Schmidt, then each row scaled to norm √d.
    private func orthogonalize(_ rows: UnsafeMutableBufferPointer<Double>, count k: Int, dimension d: Int) {
        precondition(k <= d, "at most d orthogonal directions exist")
        for row in 0..<k {
            let base = row * d
            for previous in 0..<row {
                let other = previous * d
                var dot = 0.0
                for i in 0..<d { dot += rows[base + i] * rows[other + i] }
                for i in 0..<d { rows[base + i] -= dot * rows[other + i] }
            }
            var norm = 0.0
            for i in 0..<d { norm += rows[base + i] * rows[base + i] }
            let scale = 1 / norm.squareRoot()
            for i in 0..<d { rows[base + i] *= scale }
        }
        let length = Double(d).squareRoot()
        for index in 0..<(k * d) { rows[index] *= length }
    }
}
