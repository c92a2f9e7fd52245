import Foundation
import SeededRandom

/// Patches of the signal as tokens: token t of a sample is its samples t·P ..< (t + 1)·P, so a
/// batch of signals (samples × T·P, row-major) is already the token matrix (samples·T × P).
///
///   h_t = x_t·W_e + b_e + p_t,   W_e (P × d), b_e (d), p (T × d) the learned position embedding.
final class PatchEmbedding {
    let tokens: Int
    let patch: Int
    let width: Int

    init(tokens: Int, patch: Int, width: Int) {
        self.tokens = tokens
        self.patch = patch
        self.width = width
    }

    var parameterCount: Int { patch * width + width + tokens * width }
    var weightRanges: [Range<Int>] { [0..<(patch * width)] }

    /// W_e and b_e U(±1/√P) (`nn.Linear`); positions N(0, 0.1²) (validation, frozen upstream,
    /// seed 1: 0.351 / 0.799 for one / two blocks at 0.1, 0.357 / 0.787 at 0.02, 0.304 / 0.655 at 1).
    func initialize(_ parameters: UnsafeMutableBufferPointer<Double>, random: inout GaussianSource) {
        let bound = TokenMath.linearBound(fanIn: patch)
        TokenMath.fillUniform(parameters, from: 0, count: patch * width + width, bound: bound, random: &random.uniform)
        let positions = patch * width + width
        for index in 0..<(tokens * width) { parameters[positions + index] = 0.1 * random.next() }
    }

    func forward(_ parameters: UnsafePointer<Double>, _ x: UnsafePointer<Double>, samples: Int, into h: UnsafeMutablePointer<Double>) {
        let rows = samples * tokens
        TokenMath.linear(
            x, rows: rows, inputs: patch, weights: parameters, bias: parameters + patch * width, outputs: width, into: h)
        let positions = parameters + patch * width + width
        for sample in 0..<samples {
            let line = h + sample * tokens * width
            for index in 0..<(tokens * width) { line[index] += positions[index] }
        }
    }

    func backward(
        _ parameters: UnsafePointer<Double>, _ x: UnsafePointer<Double>, streamGradient dh: UnsafePointer<Double>,
        samples: Int, gradient: UnsafeMutablePointer<Double>
    ) {
        TokenMath.linearBackward(
            x, rows: samples * tokens, inputs: patch, weights: parameters, outputs: width, outputGradient: dh,
            weightGradient: gradient, biasGradient: gradient + patch * width, inputGradient: nil)
        let positions = gradient + patch * width + width
        for sample in 0..<samples {
            let line = dh + sample * tokens * width
            for index in 0..<(tokens * width) { positions[index] += line[index] }
        }
    }
}

/// The classifier: a final layer norm, the mean over tokens, a linear readout and softmax
/// cross-entropy,
///
///   z = (1/T)·Σ_t LN(h)_t,  logits = z·W_r + b_r,  L = −(1/B)·Σ_b log softmax(logits_b)_{y_b}.
final class PoolingHead {
    let tokens: Int
    let width: Int
    let classes: Int
    let norm: LayerNorm
    private var normalized: [Double]
    private var normalizedGradient: [Double]
    private var pooled: [Double]
    private var pooledGradient: [Double]
    /// Softmax probabilities after `forward`, samples × classes.
    private(set) var probabilities: [Double]
    private var logitGradient: [Double]

    init(tokens: Int, width: Int, classes: Int, capacity samples: Int) {
        self.tokens = tokens
        self.width = width
        self.classes = classes
        norm = LayerNorm(width: width, capacity: samples * tokens)
        normalized = [Double](repeating: 0, count: samples * tokens * width)
        normalizedGradient = normalized
        pooled = [Double](repeating: 0, count: samples * width)
        pooledGradient = pooled
        probabilities = [Double](repeating: 0, count: samples * classes)
        logitGradient = probabilities
    }

    var parameterCount: Int { norm.parameterCount + width * classes + classes }
    var weightRanges: [Range<Int>] { [norm.parameterCount..<(norm.parameterCount + width * classes)] }

    func initialize(_ parameters: UnsafeMutableBufferPointer<Double>, random: inout Xoshiro256StarStar) {
        norm.initialize(UnsafeMutableBufferPointer(rebasing: parameters[0..<norm.parameterCount]))
        // W and b U(±1/√d) (`nn.Linear`).
        TokenMath.fillUniform(
            parameters, from: norm.parameterCount, count: width * classes + classes,
            bound: TokenMath.linearBound(fanIn: width), random: &random)
    }

    /// The mean loss over `samples` samples (their probabilities kept).
    func forward(_ parameters: UnsafePointer<Double>, stream h: UnsafePointer<Double>, labels: UnsafePointer<Int>, samples: Int) -> Double {
        let t = tokens, d = width, c = classes
        let readout = parameters + norm.parameterCount
        var loss = 0.0
        normalized.withUnsafeMutableBufferPointer { a in
            norm.forward(parameters, h, rows: samples * t, into: a.baseAddress!)
            pooled.withUnsafeMutableBufferPointer { z in
                for sample in 0..<samples {
                    for j in 0..<d { z[sample * d + j] = 0 }
                    for token in 0..<t {
                        for j in 0..<d { z[sample * d + j] += a[(sample * t + token) * d + j] }
                    }
                    for j in 0..<d { z[sample * d + j] /= Double(t) }
                }
                probabilities.withUnsafeMutableBufferPointer { p in
                    TokenMath.linear(
                        z.baseAddress!, rows: samples, inputs: d, weights: readout, bias: readout + d * c, outputs: c,
                        into: p.baseAddress!)
                    for sample in 0..<samples {
                        let logits = p.baseAddress! + sample * c
                        var largest = logits[0]
                        for k in 1..<c { largest = max(largest, logits[k]) }
                        var sum = 0.0
                        for k in 0..<c { sum += Foundation.exp(logits[k] - largest) }
                        loss += largest + Foundation.log(sum) - logits[labels[sample]]
                        for k in 0..<c { logits[k] = Foundation.exp(logits[k] - largest) / sum }
                    }
                }
            }
        }
        return loss / Double(samples)
    }

    /// The classes of the last `forward`'s samples (the largest probability).
    func predictedClasses(samples: Int) -> [Int] {
        (0..<samples).map { sample in
            var best = 0
            for k in 1..<classes where probabilities[sample * classes + k] > probabilities[sample * classes + best] { best = k }
            return best
        }
    }

    /// Adds the head's parameter gradient and writes dL/dh.
    func backward(
        _ parameters: UnsafePointer<Double>, labels: UnsafePointer<Int>, samples: Int, gradient: UnsafeMutablePointer<Double>,
        streamGradient dh: UnsafeMutablePointer<Double>
    ) {
        let t = tokens, d = width, c = classes
        let readout = parameters + norm.parameterCount
        logitGradient.withUnsafeMutableBufferPointer { dl in
            for sample in 0..<samples {
                for k in 0..<c {
                    dl[sample * c + k] = (probabilities[sample * c + k] - (k == labels[sample] ? 1 : 0)) / Double(samples)
                }
            }
            pooled.withUnsafeBufferPointer { z in
                pooledGradient.withUnsafeMutableBufferPointer { dz in
                    TokenMath.linearBackward(
                        z.baseAddress!, rows: samples, inputs: d, weights: readout, outputs: c,
                        outputGradient: dl.baseAddress!, weightGradient: gradient + norm.parameterCount,
                        biasGradient: gradient + norm.parameterCount + d * c, inputGradient: dz.baseAddress!)
                    normalizedGradient.withUnsafeMutableBufferPointer { dA in
                        for sample in 0..<samples {
                            for token in 0..<t {
                                for j in 0..<d { dA[(sample * t + token) * d + j] = dz[sample * d + j] / Double(t) }
                            }
                        }
                        norm.backward(
                            parameters, outputGradient: dA.baseAddress!, rows: samples * t, gradient: gradient,
                            inputGradient: dh, accumulate: false)
                    }
                }
            }
        }
    }
}
