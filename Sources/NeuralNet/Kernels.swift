import FastMath
import Foundation
import RealModule

/// The matrix work of a dense network's passes. One implementation per choice of
/// `MatrixKernels`: BLAS in double (the default), BLAS in single precision (forward only, for
/// perturbative training), and plain loops (the reference the others are tested against).
protocol NetworkKernels: Sendable {
    /// Forward pass of the samples in `rows`: the last layer's outputs end in
    /// `workspace.activations` (in double) whatever the precision inside.
    func forward(
        _ network: DenseNetwork, parameters: UnsafeBufferPointer<Double>, inputs: UnsafeBufferPointer<Double>,
        singleInputs: UnsafeBufferPointer<Float>?, rows: Range<Int>, workspace: NetworkWorkspace)
    /// Σ of the samples' losses over `rows` after `forward`.
    func lossSum(_ network: DenseNetwork, batch: Batch, rows: Range<Int>, workspace: NetworkWorkspace) -> Double
    /// Whether `backward` exists (backprop needs it; single precision is forward-only).
    var differentiates: Bool { get }
    /// One layer's backward products: ∂L/∂W += δᵀ·A and, when `previousDelta` is given,
    /// previousDelta = δ·W (before ⊙ f').
    func backward(
        count: Int, inWidth: Int, outWidth: Int, delta: UnsafePointer<Double>, input: UnsafePointer<Double>,
        weights: UnsafePointer<Double>, weightGradient: UnsafeMutablePointer<Double>,
        previousDelta: UnsafeMutablePointer<Double>?)
}

extension NetworkKernels {
    func lossSum(_ network: DenseNetwork, batch: Batch, rows: Range<Int>, workspace: NetworkWorkspace) -> Double {
        network.outputLossSum(batch: batch, rows: rows, workspace: workspace, writeDelta: false)
    }
}

extension MatrixKernels {
    /// Whether these kernels have a backward pass (backprop needs one).
    public var differentiates: Bool { implementation.differentiates }

    /// The implementation this choice names.
    var implementation: any NetworkKernels {
        switch self {
        case .blas: return BLASDoubleKernels()
        case .blasSingle: return BLASSingleKernels()
        case .handWritten: return ReferenceKernels()
        }
    }
}

/// OpenBLAS dgemm, then bias and activation in place.
struct BLASDoubleKernels: NetworkKernels {
    var differentiates: Bool { true }

    func forward(
        _ network: DenseNetwork, parameters: UnsafeBufferPointer<Double>, inputs: UnsafeBufferPointer<Double>,
        singleInputs: UnsafeBufferPointer<Float>?, rows: Range<Int>, workspace: NetworkWorkspace
    ) {
        network.forEachLayer(parameters: parameters, inputs: inputs, rows: rows, workspace: workspace) {
            source, destination, weights, biases, inWidth, outWidth, activation in
            // Z = X·Wᵀ, then z + b and the activation in place.
            BLASCalls.multiply(
                transposeA: false, transposeB: true, m: rows.count, n: outWidth, k: inWidth, alpha: 1,
                a: source, lda: inWidth, b: weights, ldb: inWidth, beta: 0, c: destination, ldc: outWidth)
            DenseNetwork.addBiasAndActivate(
                destination, rows: rows.count, width: outWidth, biases: biases, activation: activation)
        }
    }

    func backward(
        count: Int, inWidth: Int, outWidth: Int, delta: UnsafePointer<Double>, input: UnsafePointer<Double>,
        weights: UnsafePointer<Double>, weightGradient: UnsafeMutablePointer<Double>,
        previousDelta: UnsafeMutablePointer<Double>?
    ) {
        // ∂L/∂W = δᵀ·A; the previous layer's δ = δ·W (then ⊙ f').
        BLASCalls.multiply(
            transposeA: true, transposeB: false, m: outWidth, n: inWidth, k: count, alpha: 1,
            a: delta, lda: outWidth, b: input, ldb: inWidth, beta: 1, c: weightGradient, ldc: inWidth)
        if let previousDelta {
            BLASCalls.multiply(
                transposeA: false, transposeB: false, m: count, n: inWidth, k: outWidth, alpha: 1,
                a: delta, lda: outWidth, b: weights, ldb: inWidth, beta: 0, c: previousDelta, ldc: inWidth)
        }
    }
}

/// Plain loops with four accumulators: the reference the BLAS kernels are tested against, and
/// the fastest for one sample at a time (no call overhead).
struct ReferenceKernels: NetworkKernels {
    var differentiates: Bool { true }

    func forward(
        _ network: DenseNetwork, parameters: UnsafeBufferPointer<Double>, inputs: UnsafeBufferPointer<Double>,
        singleInputs: UnsafeBufferPointer<Float>?, rows: Range<Int>, workspace: NetworkWorkspace
    ) {
        let exp = FastExp()
        network.forEachLayer(parameters: parameters, inputs: inputs, rows: rows, workspace: workspace) {
            source, destination, weights, biases, inWidth, outWidth, activation in
            for sample in 0..<rows.count {
                let x = source + sample * inWidth
                let y = destination + sample * outWidth
                for unit in 0..<outWidth {
                    y[unit] = activation.apply(
                        biases[unit] + DenseNetwork.dot(weights + unit * inWidth, x, inWidth), exp: exp)
                }
            }
        }
    }

    func backward(
        count: Int, inWidth: Int, outWidth: Int, delta: UnsafePointer<Double>, input: UnsafePointer<Double>,
        weights: UnsafePointer<Double>, weightGradient: UnsafeMutablePointer<Double>,
        previousDelta: UnsafeMutablePointer<Double>?
    ) {
        for sample in 0..<count {
            let d = delta + sample * outWidth
            let a = input + sample * inWidth
            for unit in 0..<outWidth {
                let g = d[unit]
                if g == 0 { continue }
                let row = weightGradient + unit * inWidth
                for i in 0..<inWidth { row[i] += g * a[i] }
            }
        }
        guard let previousDelta else { return }
        for sample in 0..<count {
            let d = delta + sample * outWidth
            let p = previousDelta + sample * inWidth
            for i in 0..<inWidth { p[i] = 0 }
            for unit in 0..<outWidth {
                let g = d[unit]
                let row = weights + unit * inWidth
                for i in 0..<inWidth { p[i] += row[i] * g }
            }
        }
    }
}

/// The forward pass in single precision: OpenBLAS sgemm and a four-lane float tanh, the loss
/// summed in double. About twice as fast; for forward-only (perturbative) training, where a
/// loss accurate to float's 6e-8 is plenty. It has no backward pass: backprop asks for
/// `blas` (a network set to these kernels refuses `lossAndGradient`).
struct BLASSingleKernels: NetworkKernels {
    var differentiates: Bool { false }

    func forward(
        _ network: DenseNetwork, parameters: UnsafeBufferPointer<Double>, inputs: UnsafeBufferPointer<Double>,
        singleInputs: UnsafeBufferPointer<Float>?, rows: Range<Int>, workspace: NetworkWorkspace
    ) {
        network.forwardSingle(inputs: inputs, singleInputs: singleInputs, rows: rows, workspace: workspace)
    }

    func lossSum(_ network: DenseNetwork, batch: Batch, rows: Range<Int>, workspace: NetworkWorkspace) -> Double {
        network.loss == .softmaxCrossEntropy
            ? network.crossEntropySumSingle(batch: batch, rows: rows, workspace: workspace)
            : network.outputLossSum(batch: batch, rows: rows, workspace: workspace, writeDelta: false)
    }

    func backward(
        count: Int, inWidth: Int, outWidth: Int, delta: UnsafePointer<Double>, input: UnsafePointer<Double>,
        weights: UnsafePointer<Double>, weightGradient: UnsafeMutablePointer<Double>,
        previousDelta: UnsafeMutablePointer<Double>?
    ) {
        preconditionFailure("single-precision kernels have no backward pass; backprop runs on .blas")
    }
}

extension DenseNetwork {
    /// Runs `body` for each layer of the forward pass of `rows` in double precision, with the
    /// layer's source and destination rows, W, b, widths and activation. The batch's own inputs
    /// feed the first layer directly (no copy).
    @inline(__always)
    func forEachLayer(
        parameters: UnsafeBufferPointer<Double>, inputs: UnsafeBufferPointer<Double>, rows: Range<Int>,
        workspace: NetworkWorkspace,
        _ body: (
            UnsafeMutablePointer<Double>, UnsafeMutablePointer<Double>, UnsafePointer<Double>, UnsafePointer<Double>,
            Int, Int, Activation
        ) -> Void
    ) {
        for layer in 0..<(widths.count - 1) {
            let inWidth = widths[layer]
            let outWidth = widths[layer + 1]
            let source =
                (layer == 0
                    ? UnsafeMutablePointer(mutating: inputs.baseAddress!)
                    : workspace.activations[layer]
                        .baseAddress!) + rows.lowerBound * inWidth
            let destination = workspace.activations[layer + 1].baseAddress! + rows.lowerBound * outWidth
            body(
                source, destination, parameters.baseAddress! + weightOffsets[layer],
                parameters.baseAddress! + biasOffsets[layer], inWidth, outWidth, activations[layer])
        }
    }

    /// The single-precision forward pass of `rows` (parameters already converted by
    /// `checkForward`); the last layer's outputs are widened into the double buffer, where the
    /// loss, the predictions and `outputs` read them.
    func forwardSingle(
        inputs: UnsafeBufferPointer<Double>, singleInputs: UnsafeBufferPointer<Float>?, rows: Range<Int>,
        workspace: NetworkWorkspace
    ) {
        let count = rows.count
        let parameters = UnsafePointer(workspace.singleParameters.baseAddress!)
        var source: UnsafePointer<Float>
        if let singleInputs {
            source = singleInputs.baseAddress! + rows.lowerBound * widths[0]
        } else {
            let converted = workspace.singleActivations[0].baseAddress! + rows.lowerBound * widths[0]
            for index in 0..<(count * widths[0]) {
                converted[index] = Float(inputs[rows.lowerBound * widths[0] + index])
            }
            source = UnsafePointer(converted)
        }
        for layer in 0..<(widths.count - 1) {
            let inWidth = widths[layer]
            let outWidth = widths[layer + 1]
            let destination = workspace.singleActivations[layer + 1].baseAddress! + rows.lowerBound * outWidth
            BLASCalls.multiplySingle(
                m: count, n: outWidth, k: inWidth, a: source, lda: inWidth, b: parameters + weightOffsets[layer],
                ldb: inWidth, c: destination, ldc: outWidth)
            Self.addBiasAndActivate(
                destination, rows: count, width: outWidth, biases: parameters + biasOffsets[layer],
                activation: activations[layer])
            source = UnsafePointer(destination)
        }
        let last = widths.count - 1
        let outputs = workspace.activations[last].baseAddress! + rows.lowerBound * widths[last]
        for index in 0..<(count * widths[last]) { outputs[index] = Double(source[index]) }
    }

    /// y ← f(y + b) in single precision: as the double version, four lanes per SSE register.
    @inline(__always)
    static func addBiasAndActivate(
        _ y: UnsafeMutablePointer<Float>, rows: Int, width: Int, biases: UnsafePointer<Float>, activation: Activation
    ) {
        let total = rows * width
        var index = 0
        for _ in 0..<rows {
            for unit in 0..<width {
                y[index] += biases[unit]
                index += 1
            }
        }
        switch activation {
        case .tanh:
            let raw = UnsafeMutableRawPointer(y)
            var i = 0
            while i + 4 <= total {
                let z = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD4<Float>.self)
                raw.storeBytes(of: vectorTanh(z), toByteOffset: i * 4, as: SIMD4<Float>.self)
                i += 4
            }
            while i < total {
                y[i] = vectorTanh(SIMD4(repeating: y[i]))[0]
                i += 1
            }
        case .relu:
            for index in 0..<total { y[index] = max(y[index], 0) }
        case .identity:
            break
        }
    }

    /// y ← f(y + b) row by row, with the activation chosen once outside the loops.
    @inline(__always)
    static func addBiasAndActivate(
        _ y: UnsafeMutablePointer<Double>, rows: Int, width: Int, biases: UnsafePointer<Double>, activation: Activation
    ) {
        let total = rows * width
        switch activation {
        case .tanh:
            // Bias first (a loop the compiler vectorizes), then tanh four lanes at a time with
            // the table-free `vectorTanh`; the scalar tail uses the same formula via FastExp.
            var index = 0
            for _ in 0..<rows {
                for unit in 0..<width {
                    y[index] += biases[unit]
                    index += 1
                }
            }
            let raw = UnsafeMutableRawPointer(y)
            var i = 0
            while i + 4 <= total {
                let z = raw.loadUnaligned(fromByteOffset: i * 8, as: SIMD4<Double>.self)
                raw.storeBytes(of: vectorTanh(z), toByteOffset: i * 8, as: SIMD4<Double>.self)
                i += 4
            }
            let exp = FastExp()
            while i < total {
                y[i] = exp.tanh(y[i])
                i += 1
            }
        case .relu:
            for index in 0..<total { y[index] = max(y[index] + biases[index % width], 0) }
        case .identity:
            var index = 0
            for _ in 0..<rows {
                for unit in 0..<width {
                    y[index] += biases[unit]
                    index += 1
                }
            }
        }
    }

    /// Σ a_i·b_i with four independent accumulators, so the additions do not wait on each
    /// other (the compiler may not reassociate floating-point sums by itself).
    @inline(__always)
    static func dot(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, _ count: Int) -> Double {
        var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
        var i = 0
        while i + 4 <= count {
            s0 += a[i] * b[i]
            s1 += a[i + 1] * b[i + 1]
            s2 += a[i + 2] * b[i + 2]
            s3 += a[i + 3] * b[i + 3]
            i += 4
        }
        while i < count {
            s0 += a[i] * b[i]
            i += 1
        }
        return (s0 + s1) + (s2 + s3)
    }
}
