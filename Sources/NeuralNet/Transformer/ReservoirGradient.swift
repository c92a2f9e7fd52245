import Foundation
import SeededRandom

/// How a training step gets dL/du at a reservoir's inputs u from dL/dF at its outputs: the one
/// place a reservoir's lack of a gradient is dealt with. A new estimator is a new type here.
public protocol ReservoirGradient: AnyObject {
    /// The outputs F the step's downstream layers see for inputs u (rows × d), keeping what
    /// `backward` needs.
    func forward(
        _ reservoir: any ReservoirLayer, inputs: UnsafeBufferPointer<Double>, rows: Int,
        into outputs: UnsafeMutableBufferPointer<Double>) throws
    /// dL/du (or its estimate) for the rows of the last `forward`, from dL/dF.
    func backward(
        _ reservoir: any ReservoirLayer, outputGradient: UnsafeBufferPointer<Double>, rows: Int,
        into inputGradient: UnsafeMutableBufferPointer<Double>)
}

/// Backprop through a digital reservoir: the reference, possible only where R can be
/// differentiated.
public final class ExactReservoirGradient: ReservoirGradient {
    public init() {}

    public func forward(
        _ reservoir: any ReservoirLayer, inputs: UnsafeBufferPointer<Double>, rows: Int,
        into outputs: UnsafeMutableBufferPointer<Double>
    ) throws {
        try reservoir.evaluate(inputs, rows: rows, into: outputs)
    }

    public func backward(
        _ reservoir: any ReservoirLayer, outputGradient: UnsafeBufferPointer<Double>, rows: Int,
        into inputGradient: UnsafeMutableBufferPointer<Double>
    ) {
        guard let differentiable = reservoir as? any DifferentiableReservoir else {
            preconditionFailure("a \(reservoir.kind) reservoir has no gradient; train it by perturbation")
        }
        differentiable.backward(outputGradient, rows: rows, into: inputGradient)
    }
}

/// Node perturbation at the reservoir's inputs, from forward evaluations only (docs/pgt.md,
/// "The transformer"). Each token r gets its own direction z_r (Rademacher, d values) and the
/// reservoir is evaluated at u_r + σz_r and u_r − σz_r (one call, the pairs in +−, −+ order
/// alternately, so a drift over the call cancels to first order). The downstream layers see
/// F̄_r = ½(F⁺_r + F⁻_r) = F(u_r) + O(σ²), and their exact gradient g_r = dL/dF_r gives
///
///   c_r = g_r · (F⁺_r − F⁻_r)/(2σ) = g_r · J_R(u_r) z_r + O(σ²),   ĝ_r = c_r z_r,
///
/// which is unbiased for dL/du_r = J_Rᵀ g_r up to O(σ²) because E[z zᵀ] = I. Rows are
/// independent through the reservoir, so every token gives its own directional derivative
/// (B·T per pair of evaluations, not one per sample).
public final class PerturbativeReservoirGradient: ReservoirGradient {
    public let sigma: Double
    private var random: Xoshiro256StarStar
    private var directions: [Double] = []
    private var difference: [Double] = []
    private var paired: [Double] = []
    private var pairedOutputs: [Double] = []

    public init(sigma: Double, seed: UInt64) {
        self.sigma = sigma
        random = Xoshiro256StarStar(seed: seed, stream: 4_200)
    }

    /// The direction stream's position, for a checkpoint.
    public var randomState: Xoshiro256StarStar {
        get { random }
        set { random = newValue }
    }

    public func forward(
        _ reservoir: any ReservoirLayer, inputs: UnsafeBufferPointer<Double>, rows: Int,
        into outputs: UnsafeMutableBufferPointer<Double>
    ) throws {
        let d = reservoir.width
        let size = rows * d
        if directions.count < size {
            directions = [Double](repeating: 0, count: size)
            difference = [Double](repeating: 0, count: size)
            paired = [Double](repeating: 0, count: 2 * size)
            pairedOutputs = [Double](repeating: 0, count: 2 * size)
        }
        for index in 0..<size { directions[index] = random.next() & 1 == 0 ? 1 : -1 }
        for row in 0..<rows {
            // Row pair 2r, 2r + 1: (+, −) for even r, (−, +) for odd r.
            let plusFirst = row % 2 == 0
            for j in 0..<d {
                let shift = sigma * directions[row * d + j]
                paired[(2 * row + (plusFirst ? 0 : 1)) * d + j] = inputs[row * d + j] + shift
                paired[(2 * row + (plusFirst ? 1 : 0)) * d + j] = inputs[row * d + j] - shift
            }
        }
        try paired.withUnsafeBufferPointer { p in
            try pairedOutputs.withUnsafeMutableBufferPointer { f in
                try reservoir.evaluate(UnsafeBufferPointer(rebasing: p[0..<(2 * size)]), rows: 2 * rows, into: f)
            }
        }
        for row in 0..<rows {
            let plus = (2 * row + (row % 2 == 0 ? 0 : 1)) * d
            let minus = (2 * row + (row % 2 == 0 ? 1 : 0)) * d
            for j in 0..<d {
                outputs[row * d + j] = 0.5 * (pairedOutputs[plus + j] + pairedOutputs[minus + j])
                difference[row * d + j] = (pairedOutputs[plus + j] - pairedOutputs[minus + j]) / (2 * sigma)
            }
        }
    }

    public func backward(
        _ reservoir: any ReservoirLayer, outputGradient: UnsafeBufferPointer<Double>, rows: Int,
        into inputGradient: UnsafeMutableBufferPointer<Double>
    ) {
        let d = reservoir.width
        for row in 0..<rows {
            var c = 0.0
            for j in 0..<d { c += outputGradient[row * d + j] * difference[row * d + j] }
            for j in 0..<d { inputGradient[row * d + j] = c * directions[row * d + j] }
        }
    }
}
