import FastMath
import Foundation
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
    /// The forward pass in single precision: OpenBLAS sgemm and a four-lane float tanh, the
    /// loss summed in double. About twice as fast; for forward-only (perturbative) training,
    /// where a loss accurate to float's 6e-8 is plenty. Backprop runs in double (`blas`).
    case blasSingle
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

/// Scratch memory for one batch size: forward activations and backward deltas, allocated once,
/// and the worker threads that evaluate a batch in row chunks.
public final class NetworkWorkspace {
    /// The network this workspace serves.
    public let network: DenseNetwork
    /// Largest batch it holds.
    public let capacity: Int
    /// Row chunks a large batch splits into (each chunk's forward pass and loss run on their
    /// own thread). A fixed number, not the core count: the loss sums the chunks' partial sums
    /// in chunk order, so the results are the same on any machine for the same settings.
    public let chunks: Int
    /// activations[l]: capacity × widths[l] (activations[0] is the input copy).
    var activations: [UnsafeMutableBufferPointer<Double>]
    var deltas: [UnsafeMutableBufferPointer<Double>]
    /// Single-precision copies for `MatrixKernels.blasSingle`: activations, parameters.
    var singleActivations: [UnsafeMutableBufferPointer<Float>]
    let singleParameters: UnsafeMutableBufferPointer<Float>
    /// One partial loss sum per chunk.
    let partialLosses: UnsafeMutableBufferPointer<Double>
    let workers: ChunkWorkers?

    /// A workspace for batches of up to `capacity` samples, split into `chunks` row chunks: one
    /// thread per chunk (the calling one included) when `threads` (default: the machine's cores)
    /// allows, otherwise all chunks in turn on the calling thread. The thread count changes the
    /// speed, never the results.
    public init(network: DenseNetwork, capacity: Int, chunks: Int = 1, threads: Int? = nil) {
        precondition(chunks >= 1)
        self.network = network
        self.capacity = capacity
        self.chunks = chunks
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
        let single = network.kernels == .blasSingle
        singleActivations = network.widths.map { width in
            let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: single ? capacity * width : 0)
            buffer.initialize(repeating: 0)
            return buffer
        }
        singleParameters = .allocate(capacity: single ? network.parameterCount : 0)
        singleParameters.initialize(repeating: 0)
        partialLosses = .allocate(capacity: chunks)
        partialLosses.initialize(repeating: 0)
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let threadCount = min(chunks, max(threads ?? cores, 1))
        workers = threadCount == chunks && chunks > 1 ? ChunkWorkers(count: chunks - 1) : nil
    }

    deinit {
        for buffer in activations { buffer.deallocate() }
        for buffer in deltas { buffer.deallocate() }
        for buffer in singleActivations { buffer.deallocate() }
        singleParameters.deallocate()
        partialLosses.deallocate()
    }

    /// The outputs of the last forward pass (batch × output width).
    public func outputs(count: Int) -> UnsafeBufferPointer<Double> {
        UnsafeBufferPointer(rebasing: activations[activations.count - 1][0..<(count * network.widths.last!)])
    }

    /// Smallest chunk worth a thread: below it the hand-off costs more than the work.
    static let minimumChunkRows = 64

    /// Row ranges of a batch of `count`: `chunks` near-equal ranges, or one when it is small.
    func rowChunks(count: Int) -> Int {
        count >= chunks * Self.minimumChunkRows ? chunks : 1
    }

    /// Runs `body(chunk, rows)` for every chunk of a batch of `count`, chunk 0 on the calling
    /// thread and the others on the workers, and returns when all are done.
    func forEachChunk(count: Int, _ body: (Int, Range<Int>) -> Void) {
        let used = rowChunks(count: count)
        func rows(_ chunk: Int) -> Range<Int> { (chunk * count / used)..<((chunk + 1) * count / used) }
        guard used > 1, let workers else {
            for chunk in 0..<used { body(chunk, rows(chunk)) }
            return
        }
        withoutActuallyEscaping(body) { body in
            workers.run(chunks: used - 1) { worker in body(worker + 1, rows(worker + 1)) }
            body(0, rows(0))
            workers.wait()
        }
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
    /// The inputs in single precision, for `MatrixKernels.blasSingle` (without them each
    /// forward pass converts the inputs itself).
    public var singleInputs: UnsafeBufferPointer<Float>?

    public init(
        inputs: UnsafeBufferPointer<Double>, labels: UnsafeBufferPointer<Int>?, targets: UnsafeBufferPointer<Double>?,
        count: Int, singleInputs: UnsafeBufferPointer<Float>? = nil
    ) {
        self.inputs = inputs
        self.labels = labels
        self.targets = targets
        self.count = count
        self.singleInputs = singleInputs
    }
}

extension DenseNetwork {
    /// Runs the batch forward and returns the mean loss. Activations stay in `workspace`.
    ///
    /// Layer l: a_{l+1} = f_l(W_l·a_l + b_l). Large batches run in the workspace's row chunks,
    /// concurrently; the mean sums the chunks' partial sums in chunk order.
    public func loss(
        parameters: UnsafeBufferPointer<Double>, batch: Batch, workspace: NetworkWorkspace
    ) -> Double {
        checkForward(parameters: parameters, inputs: batch.inputs, count: batch.count, workspace: workspace)
        let partial = workspace.partialLosses
        workspace.forEachChunk(count: batch.count) { chunk, rows in
            forward(
                parameters: parameters, inputs: batch.inputs, singleInputs: batch.singleInputs, rows: rows,
                workspace: workspace)
            partial[chunk] =
                kernels == .blasSingle && loss == .softmaxCrossEntropy
                ? crossEntropySumSingle(batch: batch, rows: rows, workspace: workspace)
                : outputLossSum(batch: batch, rows: rows, workspace: workspace, writeDelta: false)
        }
        var total = 0.0
        for chunk in 0..<workspace.rowChunks(count: batch.count) { total += partial[chunk] }
        return total / Double(batch.count)
    }

    /// The forward pass alone (predictions go to `workspace.outputs`).
    public func forward(
        parameters: UnsafeBufferPointer<Double>, inputs: UnsafeBufferPointer<Double>, count: Int,
        workspace: NetworkWorkspace
    ) {
        checkForward(parameters: parameters, inputs: inputs, count: count, workspace: workspace)
        workspace.forEachChunk(count: count) { _, rows in
            forward(parameters: parameters, inputs: inputs, singleInputs: nil, rows: rows, workspace: workspace)
        }
    }

    private func checkForward(
        parameters: UnsafeBufferPointer<Double>, inputs: UnsafeBufferPointer<Double>, count: Int,
        workspace: NetworkWorkspace
    ) {
        precondition(count <= workspace.capacity && parameters.count == parameterCount)
        precondition(inputs.count >= count * widths[0])
        if kernels == .blasSingle {
            precondition(workspace.singleParameters.count == parameterCount, "a workspace made for these kernels")
            for index in 0..<parameterCount { workspace.singleParameters[index] = Float(parameters[index]) }
        }
    }

    /// The forward pass of the samples in `rows` (each row is independent of the others).
    private func forward(
        parameters: UnsafeBufferPointer<Double>, inputs: UnsafeBufferPointer<Double>,
        singleInputs: UnsafeBufferPointer<Float>?, rows: Range<Int>, workspace: NetworkWorkspace
    ) {
        if kernels == .blasSingle {
            forwardSingle(inputs: inputs, singleInputs: singleInputs, rows: rows, workspace: workspace)
            return
        }
        let count = rows.count
        for layer in 0..<(widths.count - 1) {
            let inWidth = widths[layer]
            let outWidth = widths[layer + 1]
            // The batch's own inputs feed the first layer directly (no copy).
            let source =
                (layer == 0
                    ? UnsafeMutablePointer(mutating: inputs.baseAddress!)
                    : workspace.activations[layer]
                        .baseAddress!) + rows.lowerBound * inWidth
            let destination = workspace.activations[layer + 1].baseAddress! + rows.lowerBound * outWidth
            let weights = parameters.baseAddress! + weightOffsets[layer]
            let biases = parameters.baseAddress! + biasOffsets[layer]
            let activation = activations[layer]
            switch kernels {
            case .blas:
                // Z = X·Wᵀ, then z + b and the activation in place.
                BLASCalls.multiply(
                    transposeA: false, transposeB: true, m: count, n: outWidth, k: inWidth, alpha: 1,
                    a: source, lda: inWidth, b: weights, ldb: inWidth, beta: 0,
                    c: destination, ldc: outWidth)
                Self.addBiasAndActivate(
                    destination, rows: count, width: outWidth, biases: biases, activation: activation)
            case .blasSingle:
                preconditionFailure("forwardSingle serves these kernels")
            case .handWritten:
                let exp = FastExp()
                for sample in 0..<count {
                    let x = source + sample * inWidth
                    let y = destination + sample * outWidth
                    for unit in 0..<outWidth {
                        y[unit] = activation.apply(
                            biases[unit] + Self.dot(weights + unit * inWidth, x, inWidth), exp: exp)
                    }
                }
            }
        }
    }

    /// The single-precision forward pass of `rows` (parameters already converted by
    /// `checkForward`); the last layer's outputs are widened into the double buffer, where the
    /// loss, the predictions and `outputs` read them.
    private func forwardSingle(
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

    /// The mean loss of the outputs in `workspace`; with `writeDelta`, also ∂L/∂z of the last
    /// layer's pre-activations into the last delta buffer (softmax − one-hot, or z − t, over n).
    func outputLoss(batch: Batch, workspace: NetworkWorkspace, writeDelta: Bool) -> Double {
        outputLossSum(batch: batch, rows: 0..<batch.count, workspace: workspace, writeDelta: writeDelta)
            / Double(batch.count)
    }

    /// The summed loss of the samples in `rows` (deltas, when written, are already over n).
    func outputLossSum(batch: Batch, rows: Range<Int>, workspace: NetworkWorkspace, writeDelta: Bool) -> Double {
        let width = widths.last!
        let outputs = workspace.activations[widths.count - 1]
        let delta = workspace.deltas[widths.count - 1]
        let scale = 1 / Double(batch.count)
        var total = 0.0
        switch loss {
        case .softmaxCrossEntropy:
            let labels = batch.labels!
            let exp = FastExp()
            for sample in rows {
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
            for index in (rows.lowerBound * width)..<(rows.upperBound * width) {
                let error = outputs[index] - targets[index]
                total += 0.5 * error * error
                if writeDelta { delta[index] = error * scale }
            }
        }
        return total
    }

    /// Σ −log softmax(z)_y over `rows` from the single-precision logits, four classes per
    /// vector: log Σ_j e^{z_j} = m + log Σ_j e^{z_j − m}, m = max_j z_j (no overflow); lanes past
    /// the last class hold −87, whose e^{−87} ≈ 1.6e-38 adds nothing. The sum is in double.
    func crossEntropySumSingle(batch: Batch, rows: Range<Int>, workspace: NetworkWorkspace) -> Double {
        let width = widths.last!
        let logits = workspace.singleActivations[widths.count - 1].baseAddress!
        let labels = batch.labels!
        let floor = SIMD4<Float>(repeating: -87)
        var total = 0.0
        for sample in rows {
            let z = logits + sample * width
            var largest = z[0]
            for j in 1..<width { largest = max(largest, z[j]) }
            var sums = SIMD4<Float>.zero
            var j = 0
            while j < width {
                var lanes = floor
                for lane in 0..<min(4, width - j) { lanes[lane] = z[j + lane] - largest }
                lanes.replace(with: floor, where: lanes .< floor)
                sums += vectorExp(lanes)
                j += 4
            }
            total += Double.log(Double(sums.sum())) + Double(largest) - Double(z[labels[sample]])
        }
        return total
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
        guard kernels != .blasSingle else {
            var double = self
            double.kernels = .blas
            return double.lossAndGradient(
                parameters: parameters, batch: batch, workspace: workspace, gradient: gradient)
        }
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
            case .blas, .blasSingle:
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
