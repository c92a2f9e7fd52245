import Foundation
import SeededRandom

/// Row-major matrix products on token matrices (rows = samples × tokens), for the
/// transformer's layers: every call goes to `BLASCalls`.
enum TokenMath {
    /// Fills `count` values from `start` with U(−bound, bound). The transformer's layers start
    /// from PyTorch's module defaults (the framework of the reference measurements in
    /// docs/transformer.md): a linear map's weights and biases U(±1/√fan_in), attention's joint
    /// Q/K/V projection Xavier-uniform with zero biases. What a frozen random upstream keeps
    /// depends on these scales, so the frozen-upstream baselines are comparable only with them.
    static func fillUniform(
        _ parameters: UnsafeMutableBufferPointer<Double>, from start: Int, count: Int, bound: Double,
        random: inout Xoshiro256StarStar
    ) {
        for index in start..<(start + count) { parameters[index] = (2 * random.nextUnitInterval() - 1) * bound }
    }

    /// PyTorch's bound for a linear map's weights and biases (`nn.Linear`): 1/√fan_in.
    static func linearBound(fanIn: Int) -> Double { 1 / Double(fanIn).squareRoot() }

    /// Y (rows × outputs) = X (rows × inputs) · W (inputs × outputs) + b.
    static func linear(
        _ x: UnsafePointer<Double>, rows: Int, inputs: Int, weights: UnsafePointer<Double>, bias: UnsafePointer<Double>?,
        outputs: Int, into y: UnsafeMutablePointer<Double>
    ) {
        if let bias {
            for row in 0..<rows { (y + row * outputs).update(from: bias, count: outputs) }
        }
        BLASCalls.multiply(
            transposeA: false, transposeB: false, m: rows, n: outputs, k: inputs, alpha: 1, a: x, lda: inputs,
            b: weights, ldb: outputs, beta: bias == nil ? 0 : 1, c: y, ldc: outputs)
    }

    /// The backward pass of `linear`: dW += Xᵀ·dY, db += Σ_rows dY and, when `inputGradient` is
    /// given, dX = dY·Wᵀ (overwritten).
    static func linearBackward(
        _ x: UnsafePointer<Double>, rows: Int, inputs: Int, weights: UnsafePointer<Double>, outputs: Int,
        outputGradient dy: UnsafePointer<Double>, weightGradient: UnsafeMutablePointer<Double>,
        biasGradient: UnsafeMutablePointer<Double>?, inputGradient: UnsafeMutablePointer<Double>?
    ) {
        BLASCalls.multiply(
            transposeA: true, transposeB: false, m: inputs, n: outputs, k: rows, alpha: 1, a: x, lda: inputs, b: dy,
            ldb: outputs, beta: 1, c: weightGradient, ldc: outputs)
        if let biasGradient {
            for row in 0..<rows {
                let line = dy + row * outputs
                for j in 0..<outputs { biasGradient[j] += line[j] }
            }
        }
        if let inputGradient {
            BLASCalls.multiply(
                transposeA: false, transposeB: true, m: rows, n: inputs, k: outputs, alpha: 1, a: dy, lda: outputs,
                b: weights, ldb: outputs, beta: 0, c: inputGradient, ldc: inputs)
        }
    }
}

/// Where a layer's parameters sit in the model's flat θ (and its gradient).
public struct ParameterSlice: Sendable, Equatable {
    public var offset: Int
    public var count: Int

    public init(offset: Int, count: Int) {
        self.offset = offset
        self.count = count
    }

    public var range: Range<Int> { offset..<(offset + count) }
}
