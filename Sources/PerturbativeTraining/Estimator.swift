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
    /// Evaluate consecutive two-sided pairs as +,−,−,+ (a linear drift of the measured loss
    /// then cancels over each pair of pairs, as on hardware).
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
    /// batch for every call of the step); `scratch` holds K·d directions and d perturbed
    /// parameters; the estimate goes into `gradient`, the scalar differences c_k into
    /// `differences` (all a run log needs). Only the coordinates in `block` are perturbed.
    public func estimate(
        step: Int, parameters: UnsafeBufferPointer<Double>, block: Range<Int>? = nil,
        loss: (UnsafeBufferPointer<Double>) -> Double, scratch: EstimatorScratch,
        gradient: UnsafeMutableBufferPointer<Double>, differences: inout [Double]
    ) {
        let d = parameters.count
        let range = block ?? 0..<d
        let width = range.count
        directions.fill(step: step, count: directionCount, dimension: width, into: scratch.directions)
        differences.removeAll(keepingCapacity: true)
        let perturbed = scratch.perturbed
        for i in 0..<d { perturbed[i] = parameters[i] }
        func evaluate(_ row: Int, _ sign: Double) -> Double {
            let z = scratch.directions.baseAddress! + row * width
            for (offset, i) in range.enumerated() { perturbed[i] = parameters[i] + sign * sigma * z[offset] }
            return loss(UnsafeBufferPointer(perturbed))
        }
        let baseline = sides == .one ? loss(parameters) : 0
        for row in 0..<directionCount {
            switch sides {
            case .two:
                let plusFirst = !alternatesOrder || row % 2 == 0
                let first = evaluate(row, plusFirst ? 1 : -1)
                let second = evaluate(row, plusFirst ? -1 : 1)
                let (plus, minus) = plusFirst ? (first, second) : (second, first)
                differences.append((plus - minus) / (2 * sigma))
            case .one:
                differences.append((evaluate(row, 1) - baseline) / sigma)
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

    /// Room for `directionCount` directions over `dimension` parameters.
    public init(directionCount: Int, dimension: Int) {
        directions = .allocate(capacity: max(directionCount, 1) * dimension)
        directions.initialize(repeating: 0)
        perturbed = .allocate(capacity: dimension)
        perturbed.initialize(repeating: 0)
    }

    deinit {
        directions.deallocate()
        perturbed.deallocate()
    }
}
