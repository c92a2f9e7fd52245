import Foundation
import SeededRandom

/// A pre-LN residual sublayer on the token stream h (rows × d), in place:
///
///   h ← h + f(LN(h)),   backward  dh ← dh + LNᵀ(J_fᵀ dh).
///
/// Its parameters are the layer norm's (γ, β), then f's.
public class ResidualSublayer {
    let tokens: Int
    let width: Int
    let norm: LayerNorm
    /// A = LN(h), F = f(A), and their gradients: rows × d each.
    var normalized: [Double]
    var transformed: [Double]
    var normalizedGradient: [Double]

    init(tokens: Int, width: Int, capacity samples: Int) {
        self.tokens = tokens
        self.width = width
        norm = LayerNorm(width: width, capacity: samples * tokens)
        let size = samples * tokens * width
        normalized = [Double](repeating: 0, count: size)
        transformed = [Double](repeating: 0, count: size)
        normalizedGradient = [Double](repeating: 0, count: size)
    }

    /// Parameters of f alone.
    var functionParameterCount: Int { 0 }
    /// Where f's weight matrices sit among f's parameters (what weight decay shrinks).
    var functionWeightRanges: [Range<Int>] { [] }
    /// The sublayer's weight matrices among its parameters (not the norm's gain and shift, not
    /// biases).
    var weightRanges: [Range<Int>] {
        functionWeightRanges.map { ($0.lowerBound + norm.parameterCount)..<($0.upperBound + norm.parameterCount) }
    }
    public var parameterCount: Int { norm.parameterCount + functionParameterCount }

    func initialize(_ parameters: UnsafeMutableBufferPointer<Double>, random: inout Xoshiro256StarStar) {
        norm.initialize(UnsafeMutableBufferPointer(rebasing: parameters[0..<norm.parameterCount]))
        initializeFunction(UnsafeMutableBufferPointer(rebasing: parameters[norm.parameterCount...]), random: &random)
    }

    func initializeFunction(_ parameters: UnsafeMutableBufferPointer<Double>, random: inout Xoshiro256StarStar) {}

    /// F = f(A) for `samples` samples (A and F in this sublayer's buffers).
    func function(_ parameters: UnsafePointer<Double>, samples: Int, training: Bool) throws {}

    /// dA from dF (= dh), adding f's parameter gradient.
    func functionBackward(
        _ parameters: UnsafePointer<Double>, outputGradient: UnsafePointer<Double>, samples: Int,
        gradient: UnsafeMutablePointer<Double>
    ) {}

    func forward(_ parameters: UnsafePointer<Double>, stream h: UnsafeMutablePointer<Double>, samples: Int, training: Bool) throws {
        let rows = samples * tokens
        precondition(rows * width <= normalized.count, "more samples than the sublayer's capacity")
        normalized.withUnsafeMutableBufferPointer { a in norm.forward(parameters, h, rows: rows, into: a.baseAddress!) }
        try function(parameters + norm.parameterCount, samples: samples, training: training)
        transformed.withUnsafeBufferPointer { f in for index in 0..<(rows * width) { h[index] += f[index] } }
    }

    func backward(
        _ parameters: UnsafePointer<Double>, streamGradient dh: UnsafeMutablePointer<Double>, samples: Int,
        gradient: UnsafeMutablePointer<Double>
    ) {
        functionBackward(
            parameters + norm.parameterCount, outputGradient: dh, samples: samples,
            gradient: gradient + norm.parameterCount)
        normalizedGradient.withUnsafeBufferPointer { dA in
            norm.backward(
                parameters, outputGradient: dA.baseAddress!, rows: samples * tokens, gradient: gradient, inputGradient: dh,
                accumulate: true)
        }
    }
}

/// LN → multi-head self-attention → residual.
public final class AttentionSublayer: ResidualSublayer {
    private let attention: MultiHeadAttention

    init(tokens: Int, width: Int, heads: Int, capacity samples: Int) {
        attention = MultiHeadAttention(tokens: tokens, width: width, heads: heads, capacity: samples)
        super.init(tokens: tokens, width: width, capacity: samples)
    }

    override var functionParameterCount: Int { attention.parameterCount }
    override var functionWeightRanges: [Range<Int>] { attention.weightRanges }

    override func initializeFunction(_ parameters: UnsafeMutableBufferPointer<Double>, random: inout Xoshiro256StarStar) {
        attention.initialize(parameters, random: &random)
    }

    override func function(_ parameters: UnsafePointer<Double>, samples: Int, training: Bool) {
        normalized.withUnsafeBufferPointer { a in
            transformed.withUnsafeMutableBufferPointer { f in
                attention.forward(parameters, a.baseAddress!, samples: samples, into: f.baseAddress!)
            }
        }
    }

    override func functionBackward(
        _ parameters: UnsafePointer<Double>, outputGradient: UnsafePointer<Double>, samples: Int,
        gradient: UnsafeMutablePointer<Double>
    ) {
        normalized.withUnsafeBufferPointer { a in
            normalizedGradient.withUnsafeMutableBufferPointer { dA in
                attention.backward(
                    parameters, a.baseAddress!, outputGradient: outputGradient, samples: samples, gradient: gradient,
                    inputGradient: dA.baseAddress!)
            }
        }
    }
}

/// LN → W₂·relu(W₁·A + b₁) + b₂ → residual (the ordinary feed-forward sublayer, d → H → d).
public final class FeedForwardSublayer: ResidualSublayer {
    let hidden: Int
    private var activations: [Double]
    private var activationGradient: [Double]

    init(tokens: Int, width: Int, hidden: Int, capacity samples: Int) {
        self.hidden = hidden
        activations = [Double](repeating: 0, count: samples * tokens * hidden)
        activationGradient = activations
        super.init(tokens: tokens, width: width, capacity: samples)
    }

    override var functionParameterCount: Int { width * hidden + hidden + hidden * width + width }
    override var functionWeightRanges: [Range<Int>] {
        [0..<(width * hidden), (width * hidden + hidden)..<(2 * width * hidden + hidden)]
    }

    /// Each map's weights and biases U(±1/√fan_in) (`nn.Linear`).
    override func initializeFunction(_ parameters: UnsafeMutableBufferPointer<Double>, random: inout Xoshiro256StarStar) {
        TokenMath.fillUniform(
            parameters, from: 0, count: width * hidden + hidden, bound: TokenMath.linearBound(fanIn: width), random: &random)
        TokenMath.fillUniform(
            parameters, from: width * hidden + hidden, count: hidden * width + width,
            bound: TokenMath.linearBound(fanIn: hidden), random: &random)
    }

    override func function(_ parameters: UnsafePointer<Double>, samples: Int, training: Bool) {
        let rows = samples * tokens
        let second = parameters + width * hidden + hidden
        activations.withUnsafeMutableBufferPointer { z in
            normalized.withUnsafeBufferPointer { a in
                TokenMath.linear(
                    a.baseAddress!, rows: rows, inputs: width, weights: parameters, bias: parameters + width * hidden,
                    outputs: hidden, into: z.baseAddress!)
            }
            for index in 0..<(rows * hidden) { z[index] = max(z[index], 0) }
            transformed.withUnsafeMutableBufferPointer { f in
                TokenMath.linear(
                    z.baseAddress!, rows: rows, inputs: hidden, weights: second, bias: second + hidden * width,
                    outputs: width, into: f.baseAddress!)
            }
        }
    }

    override func functionBackward(
        _ parameters: UnsafePointer<Double>, outputGradient: UnsafePointer<Double>, samples: Int,
        gradient: UnsafeMutablePointer<Double>
    ) {
        let rows = samples * tokens
        let second = width * hidden + hidden
        activations.withUnsafeBufferPointer { z in
            activationGradient.withUnsafeMutableBufferPointer { dZ in
                TokenMath.linearBackward(
                    z.baseAddress!, rows: rows, inputs: hidden, weights: parameters + second, outputs: width,
                    outputGradient: outputGradient, weightGradient: gradient + second,
                    biasGradient: gradient + second + hidden * width, inputGradient: dZ.baseAddress!)
                // relu'(a) = [a > 0] = [relu(a) > 0].
                for index in 0..<(rows * hidden) where z[index] <= 0 { dZ[index] = 0 }
                normalized.withUnsafeBufferPointer { a in
                    normalizedGradient.withUnsafeMutableBufferPointer { dA in
                        TokenMath.linearBackward(
                            a.baseAddress!, rows: rows, inputs: width, weights: parameters, outputs: hidden,
                            outputGradient: dZ.baseAddress!, weightGradient: gradient,
                            biasGradient: gradient + width * hidden, inputGradient: dA.baseAddress!)
                    }
                }
            }
        }
    }
}

/// LN → a reservoir (untrainable; evaluated only) → residual. Only the layer norm before it
/// has parameters. In a training step its outputs and dL/du come from `gradient` (the exact
/// VJP of a digital reservoir, or an estimate from perturbed evaluations); in a measurement
/// the reservoir is evaluated once per token.
public final class ReservoirSublayer: ResidualSublayer {
    public let reservoir: any ReservoirLayer
    /// How a training step's backward pass crosses the reservoir (nil: it does not — what is
    /// upstream stays frozen).
    public var gradient: (any ReservoirGradient)?

    init(tokens: Int, width: Int, reservoir: any ReservoirLayer, capacity samples: Int) {
        precondition(reservoir.width == width, "a reservoir must map d to d")
        self.reservoir = reservoir
        super.init(tokens: tokens, width: width, capacity: samples)
    }

    override func function(_ parameters: UnsafePointer<Double>, samples: Int, training: Bool) throws {
        let rows = samples * tokens
        try normalized.withUnsafeBufferPointer { a in
            try transformed.withUnsafeMutableBufferPointer { f in
                let inputs = UnsafeBufferPointer(rebasing: a[0..<(rows * width)])
                if training, let gradient {
                    try gradient.forward(reservoir, inputs: inputs, rows: rows, into: f)
                } else {
                    try reservoir.evaluate(inputs, rows: rows, into: f)
                }
            }
        }
    }

    override func functionBackward(
        _ parameters: UnsafePointer<Double>, outputGradient: UnsafePointer<Double>, samples: Int,
        gradient: UnsafeMutablePointer<Double>
    ) {
        guard let strategy = self.gradient else { preconditionFailure("no gradient crosses a frozen reservoir") }
        let rows = samples * tokens
        normalizedGradient.withUnsafeMutableBufferPointer { dA in
            strategy.backward(
                reservoir, outputGradient: UnsafeBufferPointer(start: outputGradient, count: rows * width), rows: rows,
                into: dA)
        }
    }
}
