import FastMath
import RealModule
import SeededRandom

/// An element-wise activation.
public enum Activation: String, Sendable, CaseIterable, Codable {
    case tanh, relu, identity

    /// f(x), with `exp` the inline exponential tanh uses (libm's tanh was half the run time;
    /// callers hoist one `FastExp` out of their loops).
    @inline(__always)
    func apply(_ x: Double, exp: FastExp) -> Double {
        switch self {
        case .tanh: return exp.tanh(x)
        case .relu: return max(x, 0)
        case .identity: return x
        }
    }

    /// f'(x) written in terms of y = f(x) (what the backward pass keeps).
    @inline(__always)
    func derivative(output y: Double) -> Double {
        switch self {
        case .tanh: return 1 - y * y
        case .relu: return y > 0 ? 1 : 0
        case .identity: return 1
        }
    }
}

/// The loss on a network's outputs.
public enum Loss: String, Sendable, Codable {
    /// Softmax cross-entropy against integer class labels: −log softmax(z)_y, averaged.
    case softmaxCrossEntropy
    /// ½‖z − t‖², averaged over samples.
    case squaredError
}

/// Which matrix kernels the network uses (`ringlab bench nn` compares them).
public enum MatrixKernels: String, Sendable, CaseIterable {
    /// OpenBLAS dgemm (single-threaded).
    case blas
    /// Plain loops with four accumulators.
    case handWritten
}

/// A dense feed-forward network whose parameters live in one flat vector, layer after layer,
/// each as W (outputs × inputs, row-major) then b: the view that perturbative training sees.
public struct DenseNetwork: Sendable {
    /// Widths from the input to the output, e.g. [64, 40, 10].
    public let widths: [Int]
    /// One activation per layer (the last is usually identity, the loss supplies the rest).
    public let activations: [Activation]
    /// The loss on the last layer's outputs.
    public let loss: Loss
    /// Offsets of each layer's W and b in the parameter vector.
    public let weightOffsets: [Int]
    public let biasOffsets: [Int]
    /// Number of parameters.
    public let parameterCount: Int
    /// The matrix kernels in use.
    public var kernels = MatrixKernels.blas

    /// A network of `widths` with `activations` (one per layer) and `loss`.
    public init(widths: [Int], activations: [Activation], loss: Loss) {
        precondition(widths.count >= 2 && activations.count == widths.count - 1)
        self.widths = widths
        self.activations = activations
        self.loss = loss
        var offset = 0
        var weights: [Int] = []
        var biases: [Int] = []
        for layer in 0..<(widths.count - 1) {
            weights.append(offset)
            offset += widths[layer] * widths[layer + 1]
            biases.append(offset)
            offset += widths[layer + 1]
        }
        weightOffsets = weights
        biasOffsets = biases
        parameterCount = offset
    }

    /// The parameter ranges of each layer (W and b together): the blocks of block-mode PGT.
    public var layerRanges: [Range<Int>] {
        (0..<(widths.count - 1)).map { weightOffsets[$0]..<(biasOffsets[$0] + widths[$0 + 1]) }
    }

    /// Glorot-uniform weights, U(±√(6/(fan_in + fan_out))), and zero biases, from `seed`.
    public func initialParameters(seed: UInt64) -> [Double] {
        var random = Xoshiro256StarStar(seed: seed, stream: 500)
        var parameters = [Double](repeating: 0, count: parameterCount)
        for layer in 0..<(widths.count - 1) {
            let limit = (6.0 / Double(widths[layer] + widths[layer + 1])).squareRoot()
            for index in weightOffsets[layer]..<biasOffsets[layer] {
                parameters[index] = (2 * random.nextUnitInterval() - 1) * limit
            }
        }
        return parameters
    }
}

/// Scratch memory for one batch size: forward activations and backward deltas, allocated once.
public final class NetworkWorkspace {
    /// The network this workspace serves.
    public let network: DenseNetwork
    /// Largest batch it holds.
    public let capacity: Int
    /// activations[l]: capacity × widths[l] (activations[0] is the input copy).
    var activations: [UnsafeMutableBufferPointer<Double>]
    var deltas: [UnsafeMutableBufferPointer<Double>]

    /// A workspace for batches of up to `capacity` samples.
    public init(network: DenseNetwork, capacity: Int) {
        self.network = network
        self.capacity = capacity
        activations = network.widths.map { width in
            let buffer = UnsafeMutableBufferPointer<Double>.allocate(capacity: capacity * width)
            buffer.initialize(repeating: 0)
            return buffer
        }
        deltas = network.widths.map { width in
            let buffer = UnsafeMutableBufferPointer<Double>.allocate(capacity: capacity * width)
            buffer.initialize(repeating: 0)
            return buffer
        }
    }

    deinit {
        for buffer in activations { buffer.deallocate() }
        for buffer in deltas { buffer.deallocate() }
    }

    /// The outputs of the last forward pass (batch × output width).
    public func outputs(count: Int) -> UnsafeBufferPointer<Double> {
        UnsafeBufferPointer(rebasing: activations[activations.count - 1][0..<(count * network.widths.last!)])
    }
}

/// A batch: inputs (count × input width, row-major) and targets (class labels or values).
public struct Batch {
    public var inputs: UnsafeBufferPointer<Double>
    /// Class labels for cross-entropy.
    public var labels: UnsafeBufferPointer<Int>?
    /// Targets (count × output width) for squared error.
    public var targets: UnsafeBufferPointer<Double>?
    public var count: Int

    public init(
        inputs: UnsafeBufferPointer<Double>, labels: UnsafeBufferPointer<Int>?, targets: UnsafeBufferPointer<Double>?,
        count: Int
    ) {
        self.inputs = inputs
        self.labels = labels
        self.targets = targets
        self.count = count
    }
}

extension DenseNetwork {
    /// Runs the batch forward and returns the mean loss. Activations stay in `workspace`.
    ///
    /// Layer l: a_{l+1} = f_l(W_l·a_l + b_l).
    public func loss(
        parameters: UnsafeBufferPointer<Double>, batch: Batch, workspace: NetworkWorkspace
    ) -> Double {
        forward(parameters: parameters, inputs: batch.inputs, count: batch.count, workspace: workspace)
        return outputLoss(batch: batch, workspace: workspace, writeDelta: false)
    }

    /// The forward pass alone (predictions go to `workspace.outputs`).
    public func forward(
        parameters: UnsafeBufferPointer<Double>, inputs: UnsafeBufferPointer<Double>, count: Int,
        workspace: NetworkWorkspace
    ) {
        precondition(count <= workspace.capacity && parameters.count == parameterCount)
        precondition(inputs.count >= count * widths[0])
        for layer in 0..<(widths.count - 1) {
            let inWidth = widths[layer]
            let outWidth = widths[layer + 1]
            // The batch's own inputs feed the first layer directly (no copy).
            let source = layer == 0 ? UnsafeMutableBufferPointer(mutating: inputs) : workspace.activations[layer]
            let destination = workspace.activations[layer + 1]
            let weights = parameters.baseAddress! + weightOffsets[layer]
            let biases = parameters.baseAddress! + biasOffsets[layer]
            let activation = activations[layer]
            switch kernels {
            case .blas:
                // Z = X·Wᵀ, then z + b and the activation in place.
                BLASCalls.multiply(
                    transposeA: false, transposeB: true, m: count, n: outWidth, k: inWidth, alpha: 1,
                    a: source.baseAddress!, lda: inWidth, b: weights, ldb: inWidth, beta: 0,
                    c: destination.baseAddress!, ldc: outWidth)
                Self.addBiasAndActivate(
                    destination.baseAddress!, rows: count, width: outWidth, biases: biases, activation: activation)
            case .handWritten:
                let exp = FastExp()
                for sample in 0..<count {
                    let x = source.baseAddress! + sample * inWidth
                    let y = destination.baseAddress! + sample * outWidth
                    for unit in 0..<outWidth {
                        y[unit] = activation.apply(
                            biases[unit] + Self.dot(weights + unit * inWidth, x, inWidth), exp: exp)
                    }
                }
            }
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
            // tanh z = (e − 1)/(e + 1), e = e^{2z} (z clamped to ±19.1, where tanh rounds to
            // ±1). The divisions were the bottleneck, so four reciprocals share one
            // (Montgomery's trick: 1/d₀ = d₁·d₂·d₃/(d₀d₁d₂d₃), …), a few ulp like the rest.
            let exp = FastExp()
            var index = 0
            for _ in 0..<rows {
                for unit in 0..<width {
                    let z = min(max(y[index] + biases[unit], -19.1), 19.1)
                    y[index] = exp(2 * z)
                    index += 1
                }
            }
            var i = 0
            while i + 4 <= total {
                let d0 = y[i] + 1, d1 = y[i + 1] + 1, d2 = y[i + 2] + 1, d3 = y[i + 3] + 1
                let p01 = d0 * d1
                let p23 = d2 * d3
                let inverse = 1 / (p01 * p23)
                let inverse01 = inverse * p23
                let inverse23 = inverse * p01
                y[i] = (y[i] - 1) * (inverse01 * d1)
                y[i + 1] = (y[i + 1] - 1) * (inverse01 * d0)
                y[i + 2] = (y[i + 2] - 1) * (inverse23 * d3)
                y[i + 3] = (y[i + 3] - 1) * (inverse23 * d2)
                i += 4
            }
            while i < total {
                y[i] = (y[i] - 1) / (y[i] + 1)
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

    /// The mean loss of the outputs in `workspace`; with `writeDelta`, also ∂L/∂z of the last
    /// layer's pre-activations into the last delta buffer (softmax − one-hot, or z − t, over n).
    func outputLoss(batch: Batch, workspace: NetworkWorkspace, writeDelta: Bool) -> Double {
        let width = widths.last!
        let outputs = workspace.activations[widths.count - 1]
        let delta = workspace.deltas[widths.count - 1]
        let scale = 1 / Double(batch.count)
        var total = 0.0
        switch loss {
        case .softmaxCrossEntropy:
            let labels = batch.labels!
            let exp = FastExp()
            for sample in 0..<batch.count {
                let z = outputs.baseAddress! + sample * width
                var largest = -Double.infinity
                for j in 0..<width { largest = max(largest, z[j]) }
                var sum = 0.0
                for j in 0..<width { sum += exp(z[j] - largest) }
                let logSum = Double.log(sum) + largest
                total += logSum - z[labels[sample]]
                if writeDelta {
                    for j in 0..<width {
                        let probability = exp(z[j] - logSum)
                        delta[sample * width + j] = (probability - (j == labels[sample] ? 1 : 0)) * scale
                    }
                }
            }
        case .squaredError:
            let targets = batch.targets!
            for index in 0..<(batch.count * width) {
                let error = outputs[index] - targets[index]
                total += 0.5 * error * error
                if writeDelta { delta[index] = error * scale }
            }
        }
        return total * scale
    }

    /// The mean loss and its exact gradient (backpropagation) into `gradient`.
    ///
    /// δ_L = ∂L/∂z_L (from the loss, the last activation must be identity); for earlier layers
    /// δ_l = (W_lᵀ·δ_{l+1}) ⊙ f'_l; ∂L/∂W_l = δ_{l+1}·a_lᵀ, ∂L/∂b_l = Σ δ_{l+1}.
    public func lossAndGradient(
        parameters: UnsafeBufferPointer<Double>, batch: Batch, workspace: NetworkWorkspace,
        gradient: UnsafeMutableBufferPointer<Double>
    ) -> Double {
        precondition(activations.last == .identity, "the loss supplies the output nonlinearity")
        forward(parameters: parameters, inputs: batch.inputs, count: batch.count, workspace: workspace)
        let value = outputLoss(batch: batch, workspace: workspace, writeDelta: true)
        for index in gradient.indices { gradient[index] = 0 }
        for layer in stride(from: widths.count - 2, through: 0, by: -1) {
            let inWidth = widths[layer]
            let outWidth = widths[layer + 1]
            let input = layer == 0 ? UnsafeMutableBufferPointer(mutating: batch.inputs) : workspace.activations[layer]
            let delta = workspace.deltas[layer + 1]
            let weights = parameters.baseAddress! + weightOffsets[layer]
            let weightGradient = gradient.baseAddress! + weightOffsets[layer]
            let biasGradient = gradient.baseAddress! + biasOffsets[layer]
            for sample in 0..<batch.count {
                let d = delta.baseAddress! + sample * outWidth
                for unit in 0..<outWidth { biasGradient[unit] += d[unit] }
            }
            let previousDelta = workspace.deltas[layer]
            switch kernels {
            case .blas:
                // ∂L/∂W = δᵀ·A; the previous layer's δ = δ·W (then ⊙ f').
                BLASCalls.multiply(
                    transposeA: true, transposeB: false, m: outWidth, n: inWidth, k: batch.count, alpha: 1,
                    a: delta.baseAddress!, lda: outWidth, b: input.baseAddress!, ldb: inWidth, beta: 1,
                    c: weightGradient, ldc: inWidth)
                if layer > 0 {
                    BLASCalls.multiply(
                        transposeA: false, transposeB: false, m: batch.count, n: inWidth, k: outWidth, alpha: 1,
                        a: delta.baseAddress!, lda: outWidth, b: weights, ldb: inWidth, beta: 0,
                        c: previousDelta.baseAddress!, ldc: inWidth)
                }
            case .handWritten:
                for sample in 0..<batch.count {
                    let d = delta.baseAddress! + sample * outWidth
                    let a = input.baseAddress! + sample * inWidth
                    for unit in 0..<outWidth {
                        let g = d[unit]
                        if g == 0 { continue }
                        let row = weightGradient + unit * inWidth
                        for i in 0..<inWidth { row[i] += g * a[i] }
                    }
                }
                if layer > 0 {
                    for sample in 0..<batch.count {
                        let d = delta.baseAddress! + sample * outWidth
                        let p = previousDelta.baseAddress! + sample * inWidth
                        for i in 0..<inWidth { p[i] = 0 }
                        for unit in 0..<outWidth {
                            let g = d[unit]
                            let row = weights + unit * inWidth
                            for i in 0..<inWidth { p[i] += row[i] * g }
                        }
                    }
                }
            }
            guard layer > 0 else { break }
            let previousActivation = activations[layer - 1]
            for sample in 0..<batch.count {
                let a = input.baseAddress! + sample * inWidth
                let p = previousDelta.baseAddress! + sample * inWidth
                for i in 0..<inWidth { p[i] *= previousActivation.derivative(output: a[i]) }
            }
        }
        return value
    }

    /// Predicted classes of the outputs in `workspace` (argmax per sample).
    public func predictedClasses(workspace: NetworkWorkspace, count: Int) -> [Int] {
        let width = widths.last!
        let outputs = workspace.outputs(count: count)
        return (0..<count).map { sample in
            var best = 0
            for j in 1..<width where outputs[sample * width + j] > outputs[sample * width + best] { best = j }
            return best
        }
    }
}
