import Foundation
import SeededRandom

/// Multi-head self-attention over each sample's T tokens (Vaswani et al. 2017):
///
///   [Q K V] = A·W_qkv + b_qkv,  per head j (width d_h = d/h):
///   S = Q_j K_jᵀ/√d_h,  P = softmax over each row of S,  O_j = P V_j,
///   out = [O_1 … O_h]·W_o + b_o.
///
/// Backward: dV_j = Pᵀ dO_j, dP = dO_j V_jᵀ, dS = P ⊙ (dP − rowsum(P ⊙ dP)),
/// dQ_j = dS K_j/√d_h, dK_j = dSᵀ Q_j/√d_h, then the two linear maps.
/// Parameters: W_qkv (d × 3d, row-major), b_qkv (3d), W_o (d × d), b_o (d).
final class MultiHeadAttention {
    let tokens: Int
    let width: Int
    let heads: Int
    private var projections: [Double]  // rows × 3d
    private var weights: [Double]  // samples × heads × T × T (P)
    private var mixed: [Double]  // rows × d (O before W_o)
    private var mixedGradient: [Double]
    private var projectionGradient: [Double]
    private var scoreGradient: [Double]  // T × T scratch

    init(tokens: Int, width: Int, heads: Int, capacity samples: Int) {
        precondition(width % heads == 0, "the width must split evenly into heads")
        self.tokens = tokens
        self.width = width
        self.heads = heads
        let rows = samples * tokens
        projections = [Double](repeating: 0, count: rows * 3 * width)
        weights = [Double](repeating: 0, count: samples * heads * tokens * tokens)
        mixed = [Double](repeating: 0, count: rows * width)
        mixedGradient = [Double](repeating: 0, count: rows * width)
        projectionGradient = [Double](repeating: 0, count: rows * 3 * width)
        scoreGradient = [Double](repeating: 0, count: tokens * tokens)
    }

    var parameterCount: Int { 3 * width * width + 3 * width + width * width + width }
    private var outputWeightsOffset: Int { 3 * width * width + 3 * width }
    var weightRanges: [Range<Int>] {
        [0..<(3 * width * width), outputWeightsOffset..<(outputWeightsOffset + width * width)]
    }

    /// As `nn.MultiheadAttention`: W_qkv Xavier-uniform as one d × 3d matrix, U(±√(6/4d)); W_o
    /// U(±1/√d); zero biases.
    func initialize(_ parameters: UnsafeMutableBufferPointer<Double>, random: inout Xoshiro256StarStar) {
        TokenMath.fillUniform(
            parameters, from: 0, count: 3 * width * width, bound: (6.0 / Double(4 * width)).squareRoot(), random: &random)
        TokenMath.fillUniform(
            parameters, from: outputWeightsOffset, count: width * width, bound: TokenMath.linearBound(fanIn: width),
            random: &random)
    }

    /// out = attention(A) for `samples` samples of T tokens.
    func forward(
        _ parameters: UnsafePointer<Double>, _ a: UnsafePointer<Double>, samples: Int, into out: UnsafeMutablePointer<Double>
    ) {
        let d = width, t = tokens, h = heads, dh = width / heads
        let rows = samples * t
        let scale = 1 / Double(dh).squareRoot()
        projections.withUnsafeMutableBufferPointer { qkv in
            TokenMath.linear(
                a, rows: rows, inputs: d, weights: parameters, bias: parameters + 3 * d * d, outputs: 3 * d,
                into: qkv.baseAddress!)
            weights.withUnsafeMutableBufferPointer { p in
                mixed.withUnsafeMutableBufferPointer { o in
                    for sample in 0..<samples {
                        let base = qkv.baseAddress! + sample * t * 3 * d
                        for head in 0..<h {
                            let probabilities = p.baseAddress! + (sample * h + head) * t * t
                            for query in 0..<t {
                                let q = base + query * 3 * d + head * dh
                                var largest = -Double.infinity
                                for key in 0..<t {
                                    let k = base + key * 3 * d + d + head * dh
                                    var dot = 0.0
                                    for c in 0..<dh { dot += q[c] * k[c] }
                                    probabilities[query * t + key] = dot * scale
                                    largest = max(largest, dot * scale)
                                }
                                var sum = 0.0
                                for key in 0..<t {
                                    let e = Foundation.exp(probabilities[query * t + key] - largest)
                                    probabilities[query * t + key] = e
                                    sum += e
                                }
                                let output = o.baseAddress! + (sample * t + query) * d + head * dh
                                for c in 0..<dh { output[c] = 0 }
                                for key in 0..<t {
                                    let weight = probabilities[query * t + key] / sum
                                    probabilities[query * t + key] = weight
                                    let v = base + key * 3 * d + 2 * d + head * dh
                                    for c in 0..<dh { output[c] += weight * v[c] }
                                }
                            }
                        }
                    }
                    TokenMath.linear(
                        o.baseAddress!, rows: rows, inputs: d, weights: parameters + outputWeightsOffset,
                        bias: parameters + outputWeightsOffset + d * d, outputs: d, into: out)
                }
            }
        }
    }

    /// Adds the parameters' gradient and writes dA, after `forward` on the same A.
    func backward(
        _ parameters: UnsafePointer<Double>, _ a: UnsafePointer<Double>, outputGradient dOut: UnsafePointer<Double>,
        samples: Int, gradient: UnsafeMutablePointer<Double>, inputGradient dA: UnsafeMutablePointer<Double>
    ) {
        let d = width, t = tokens, h = heads, dh = width / heads
        let rows = samples * t
        let scale = 1 / Double(dh).squareRoot()
        mixed.withUnsafeBufferPointer { o in
            mixedGradient.withUnsafeMutableBufferPointer { dO in
                TokenMath.linearBackward(
                    o.baseAddress!, rows: rows, inputs: d, weights: parameters + outputWeightsOffset, outputs: d,
                    outputGradient: dOut, weightGradient: gradient + outputWeightsOffset,
                    biasGradient: gradient + outputWeightsOffset + d * d, inputGradient: dO.baseAddress!)
                projections.withUnsafeBufferPointer { qkv in
                    weights.withUnsafeBufferPointer { p in
                        projectionGradient.withUnsafeMutableBufferPointer { dqkv in
                            scoreGradient.withUnsafeMutableBufferPointer { dS in
                                for index in 0..<(rows * 3 * d) { dqkv[index] = 0 }
                                for sample in 0..<samples {
                                    let base = qkv.baseAddress! + sample * t * 3 * d
                                    let dBase = dqkv.baseAddress! + sample * t * 3 * d
                                    for head in 0..<h {
                                        let probabilities = p.baseAddress! + (sample * h + head) * t * t
                                        for query in 0..<t {
                                            let dOutput = dO.baseAddress! + (sample * t + query) * d + head * dh
                                            var weighted = 0.0
                                            for key in 0..<t {
                                                let v = base + key * 3 * d + 2 * d + head * dh
                                                let dv = dBase + key * 3 * d + 2 * d + head * dh
                                                let weight = probabilities[query * t + key]
                                                var dot = 0.0
                                                for c in 0..<dh {
                                                    dot += dOutput[c] * v[c]
                                                    dv[c] += weight * dOutput[c]
                                                }
                                                dS[query * t + key] = dot
                                                weighted += weight * dot
                                            }
                                            for key in 0..<t {
                                                dS[query * t + key] =
                                                    probabilities[query * t + key] * (dS[query * t + key] - weighted) * scale
                                            }
                                        }
                                        for query in 0..<t {
                                            let q = base + query * 3 * d + head * dh
                                            let dq = dBase + query * 3 * d + head * dh
                                            for key in 0..<t {
                                                let k = base + key * 3 * d + d + head * dh
                                                let dk = dBase + key * 3 * d + d + head * dh
                                                let s = dS[query * t + key]
                                                for c in 0..<dh {
                                                    dq[c] += s * k[c]
                                                    dk[c] += s * q[c]
                                                }
                                            }
                                        }
                                    }
                                }
                                TokenMath.linearBackward(
                                    a, rows: rows, inputs: d, weights: parameters, outputs: 3 * d,
                                    outputGradient: dqkv.baseAddress!, weightGradient: gradient,
                                    biasGradient: gradient + 3 * d * d, inputGradient: dA)
                            }
                        }
                    }
                }
            }
        }
    }
}
