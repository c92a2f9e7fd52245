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

/// Which matrix kernels the network uses (`ringlab bench nn` compares them); each names an
/// implementation of `NetworkKernels` (Kernels.swift).
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

    /// Initial parameters from `seed`, drawn as `initialization` says.
    public func initialParameters(seed: UInt64, initialization: Initialization = .glorot) -> [Double] {
        var random = Xoshiro256StarStar(seed: seed, stream: 500)
        var parameters = [Double](repeating: 0, count: parameterCount)
        for layer in 0..<(widths.count - 1) {
            let fanIn = widths[layer]
            let fanOut = widths[layer + 1]
            let (limit, drawn) =
                switch initialization {
                case .glorot: ((6.0 / Double(fanIn + fanOut)).squareRoot(), weightOffsets[layer]..<biasOffsets[layer])
                case .fanIn: (TokenMath.linearBound(fanIn: fanIn), weightOffsets[layer]..<(biasOffsets[layer] + fanOut))
                }
            for index in drawn { parameters[index] = (2 * random.nextUnitInterval() - 1) * limit }
        }
        return parameters
    }
}

/// How a dense network's initial parameters are drawn.
public enum Initialization: String, Sendable, Codable, CaseIterable {
    /// Glorot-uniform weights, U(±√(6/(fan_in + fan_out))), and zero biases (Glorot & Bengio
    /// 2010): ringlab's default.
    case glorot
    /// Weights and biases U(±1/√fan_in): PyTorch's `nn.Linear` default, for runs compared with a
    /// PyTorch reference (MNIST-1D's MLP row in docs/transformer.md).
    case fanIn = "fan-in"
}
