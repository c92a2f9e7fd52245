import Foundation
import SeededRandom

/// A fixed nonlinear map from each token's d-vector to a d-vector that training may only
/// evaluate: the black box inside a transformer block. There is no gradient here, on purpose —
/// a trainer that holds a `ReservoirLayer` cannot call one (`DifferentiableReservoir` adds
/// it for a reservoir that is digital, so that backprop through it can serve as the reference).
public protocol ReservoirLayer: AnyObject {
    /// Token width d (inputs and outputs).
    var width: Int { get }
    /// outputs[r] = R(inputs[r]) for `rows` rows of d; rows are independent of one another.
    func evaluate(_ inputs: UnsafeBufferPointer<Double>, rows: Int, into outputs: UnsafeMutableBufferPointer<Double>) throws
    /// What the reservoir is, for a run's summary ("digital", "ring").
    var kind: String { get }
}

/// A reservoir whose vector-Jacobian product can be computed: du = J_R(u)ᵀ dF for the rows of
/// the last `evaluate` call.
public protocol DifferentiableReservoir: ReservoirLayer {
    func backward(_ outputGradient: UnsafeBufferPointer<Double>, rows: Int, into inputGradient: UnsafeMutableBufferPointer<Double>)
}

/// The digital reservoir (echo-state style): a fixed random expansion d → R → d,
///
///   F(u) = tanh(u·W_in + b_in)·W_out,  W_in, b_in ~ U(±1/√d), W_out ~ U(±1/√R) (as frozen `nn.Linear`s),
///
/// seeded, never trained. Backward: dh = dF·W_outᵀ, da = dh ⊙ (1 − h²), du = da·W_inᵀ.
public final class DigitalReservoir: DifferentiableReservoir {
    public let width: Int
    public let expansion: Int
    public var kind: String { "digital" }
    private let inputWeights: [Double]
    private let inputBias: [Double]
    private let outputWeights: [Double]
    private var hidden: [Double]
    private var hiddenGradient: [Double]

    /// A reservoir d → `expansion` → d from `seed`, for up to `capacity` rows per evaluation.
    public init(width: Int, expansion: Int, seed: UInt64, capacity: Int) {
        self.width = width
        self.expansion = expansion
        var random = Xoshiro256StarStar(seed: seed, stream: 4_100)
        func uniform(_ count: Int, fanIn: Int) -> [Double] {
            let bound = TokenMath.linearBound(fanIn: fanIn)
            return (0..<count).map { _ in (2 * random.nextUnitInterval() - 1) * bound }
        }
        inputWeights = uniform(width * expansion, fanIn: width)
        inputBias = uniform(expansion, fanIn: width)
        outputWeights = uniform(expansion * width, fanIn: expansion)
        hidden = [Double](repeating: 0, count: capacity * expansion)
        hiddenGradient = [Double](repeating: 0, count: capacity * expansion)
    }

    private func reserve(_ rows: Int) {
        guard hidden.count < rows * expansion else { return }
        hidden = [Double](repeating: 0, count: rows * expansion)
        hiddenGradient = [Double](repeating: 0, count: rows * expansion)
    }

    public func evaluate(_ inputs: UnsafeBufferPointer<Double>, rows: Int, into outputs: UnsafeMutableBufferPointer<Double>) {
        reserve(rows)
        hidden.withUnsafeMutableBufferPointer { h in
            inputWeights.withUnsafeBufferPointer { w in
                inputBias.withUnsafeBufferPointer { b in
                    TokenMath.linear(
                        inputs.baseAddress!, rows: rows, inputs: width, weights: w.baseAddress!, bias: b.baseAddress!,
                        outputs: expansion, into: h.baseAddress!)
                }
            }
            for index in 0..<(rows * expansion) { h[index] = Foundation.tanh(h[index]) }
            outputWeights.withUnsafeBufferPointer { w in
                TokenMath.linear(
                    h.baseAddress!, rows: rows, inputs: expansion, weights: w.baseAddress!, bias: nil, outputs: width,
                    into: outputs.baseAddress!)
            }
        }
    }

    public func backward(
        _ outputGradient: UnsafeBufferPointer<Double>, rows: Int, into inputGradient: UnsafeMutableBufferPointer<Double>
    ) {
        hiddenGradient.withUnsafeMutableBufferPointer { dh in
            hidden.withUnsafeBufferPointer { h in
                outputWeights.withUnsafeBufferPointer { w in
                    BLASCalls.multiply(
                        transposeA: false, transposeB: true, m: rows, n: expansion, k: width, alpha: 1,
                        a: outputGradient.baseAddress!, lda: width, b: w.baseAddress!, ldb: width, beta: 0,
                        c: dh.baseAddress!, ldc: expansion)
                }
                for index in 0..<(rows * expansion) { dh[index] *= 1 - h[index] * h[index] }
            }
            inputWeights.withUnsafeBufferPointer { w in
                BLASCalls.multiply(
                    transposeA: false, transposeB: true, m: rows, n: width, k: expansion, alpha: 1,
                    a: dh.baseAddress!, lda: expansion, b: w.baseAddress!, ldb: expansion, beta: 0,
                    c: inputGradient.baseAddress!, ldc: width)
            }
        }
    }
}
