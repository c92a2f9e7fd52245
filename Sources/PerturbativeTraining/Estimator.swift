/// The perturbative gradient estimator family of docs/pgt.md.
///
/// Two-sided: c_k = [L(θ + σz_k) − L(θ − σz_k)]/(2σ); one-sided: c_k = [L(θ + σz_k) − L(θ)]/σ
/// with L(θ) measured once in the same step; then ĝ = (1/K)·Σ_k c_k z_k. For smooth L and
/// E[zzᵀ] = I, E[ĝ] = ∇L + O(σ²) (two-sided) or O(σ) (one-sided).
public struct PerturbativeEstimator: Sendable {
    /// Sidedness of the difference.
    public enum Sides: String, Sendable, Codable {
        case two, one
    }

    public var directions: DirectionGenerator
    /// K, directions per step.
    public var directionCount: Int
    /// σ, the perturbation scale.
    public var sigma: Double
    public var sides: Sides
    /// Evaluate consecutive two-sided pairs as +,−,−,+: pair k of step t is (+, −) when t + k
    /// is even, (−, +) when odd, so consecutive pairs alternate within a step and, with K = 1,
    /// from step to step. A loss drifting linearly in time adds −ḋ/(2σ)·Δt to a (+, −)
    /// difference and +ḋ/(2σ)·Δt to a (−, +) one: the drift's bias cancels over each pair of
    /// pairs, as it must on hardware.
    public var alternatesOrder = true

    public init(directions: DirectionGenerator, directionCount: Int, sigma: Double, sides: Sides = .two) {
        self.directions = directions
        self.directionCount = directionCount
        self.sigma = sigma
        self.sides = sides
    }

    /// Forward passes one step costs: 2K two-sided, K + 1 one-sided.
    public var forwardPassesPerStep: Int { sides == .two ? 2 * directionCount : directionCount + 1 }

    /// One step's estimate. `loss` evaluates the objective at a parameter vector (on the same
    /// batch for every call of the step); `scratch` holds K·d directions and the step's
    /// perturbed parameter vectors; the estimate goes into `gradient`, the scalar differences
    /// c_k into `differences` (all a run log needs). Only the coordinates in `block` are
    /// perturbed.
    public func estimate(
        step: Int, parameters: UnsafeBufferPointer<Double>, block: Range<Int>? = nil,
        loss: (UnsafeBufferPointer<Double>) -> Double, scratch: EstimatorScratch,
        gradient: UnsafeMutableBufferPointer<Double>, differences: inout [Double]
    ) {
        estimate(
            step: step, parameters: parameters, block: block,
            losses: { vectors, values in
                let d = parameters.count
                for index in values.indices {
                    values[index] = loss(UnsafeBufferPointer(rebasing: vectors[(index * d)..<((index + 1) * d)]))
                }
            }, scratch: scratch, gradient: gradient, differences: &differences)
    }

    /// The same estimate with all of the step's evaluations handed over at once: `losses`
    /// gets the perturbed parameter vectors in evaluation order (forwardPassesPerStep rows of
    /// d, row-major) and writes one loss per row. A device can then stream them back to back.
    /// Order: one-sided, the unperturbed θ first, then θ + σz_k; two-sided, each pair as
    /// (+, −) or, with `alternatesOrder`, (−, +) when step + k is odd.
    public func estimate(
        step: Int, parameters: UnsafeBufferPointer<Double>, block: Range<Int>? = nil,
        losses: (UnsafeBufferPointer<Double>, UnsafeMutableBufferPointer<Double>) -> Void,
        scratch: EstimatorScratch, gradient: UnsafeMutableBufferPointer<Double>, differences: inout [Double]
    ) {
        let d = parameters.count
        let range = block ?? 0..<d
        let width = range.count
        let passes = forwardPassesPerStep
        precondition(scratch.evaluations.count >= passes * d && scratch.losses.count >= passes)
        directions.fill(step: step, count: directionCount, dimension: width, into: scratch.directions)
        differences.removeAll(keepingCapacity: true)
        let vectors = scratch.evaluations.baseAddress!
        func fill(_ slot: Int, row: Int, sign: Double) {
            let target = vectors + slot * d
            for i in 0..<d { target[i] = parameters[i] }
            let z = scratch.directions.baseAddress! + row * width
            for (offset, i) in range.enumerated() { target[i] = parameters[i] + sign * sigma * z[offset] }
        }
        func plusFirst(_ row: Int) -> Bool { !alternatesOrder || (step + row) % 2 == 0 }
        switch sides {
        case .two:
            for row in 0..<directionCount {
                fill(2 * row, row: row, sign: plusFirst(row) ? 1 : -1)
                fill(2 * row + 1, row: row, sign: plusFirst(row) ? -1 : 1)
            }
        case .one:
            for i in 0..<d { vectors[i] = parameters[i] }
            for row in 0..<directionCount { fill(row + 1, row: row, sign: 1) }
        }
        let values = UnsafeMutableBufferPointer(rebasing: scratch.losses[0..<passes])
        losses(UnsafeBufferPointer(start: vectors, count: passes * d), values)
        for row in 0..<directionCount {
            switch sides {
            case .two:
                let (first, second) = (values[2 * row], values[2 * row + 1])
                let (plus, minus) = plusFirst(row) ? (first, second) : (second, first)
                differences.append((plus - minus) / (2 * sigma))
            case .one:
                differences.append((values[row + 1] - values[0]) / sigma)
            }
        }
        Self.combine(
            differences: differences, directions: UnsafeBufferPointer(scratch.directions), width: width,
            range: range, into: gradient)
    }

    /// ĝ = (1/K)·Σ c_k z_k on `range` (zero elsewhere): shared by estimation and log replay.
    public static func combine(
        differences: [Double], directions: UnsafeBufferPointer<Double>, width: Int, range: Range<Int>,
        into gradient: UnsafeMutableBufferPointer<Double>
    ) {
        for index in gradient.indices { gradient[index] = 0 }
        let scale = 1 / Double(differences.count)
        for (row, c) in differences.enumerated() {
            let z = directions.baseAddress! + row * width
            for (offset, i) in range.enumerated() { gradient[i] += scale * c * z[offset] }
        }
    }
}

/// Buffers an estimator reuses from step to step.
public final class EstimatorScratch {
    public let directions: UnsafeMutableBufferPointer<Double>
    public let perturbed: UnsafeMutableBufferPointer<Double>
    /// The perturbed parameter vectors of one step, in evaluation order.
    public let evaluations: UnsafeMutableBufferPointer<Double>
    /// Their losses.
    public let losses: UnsafeMutableBufferPointer<Double>

    /// Room for `directionCount` directions over `dimension` parameters (and the 2K + 1
    /// parameter vectors a step can evaluate).
    public init(directionCount: Int, dimension: Int) {
        let count = max(directionCount, 1)
        directions = .allocate(capacity: count * dimension)
        directions.initialize(repeating: 0)
        perturbed = .allocate(capacity: dimension)
        perturbed.initialize(repeating: 0)
        evaluations = .allocate(capacity: (2 * count + 1) * dimension)
        evaluations.initialize(repeating: 0)
        losses = .allocate(capacity: 2 * count + 1)
        losses.initialize(repeating: 0)
    }

    deinit {
        directions.deallocate()
        perturbed.deallocate()
        evaluations.deallocate()
        losses.deallocate()
    }
}
