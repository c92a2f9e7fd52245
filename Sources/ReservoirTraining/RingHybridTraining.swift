import Foundation
import NeuralNet
import PerturbativeTraining
import ReservoirControl
import ReservoirHAL
import SeededRandom

/// The ring as a layer of a network trained by PGT (docs/pgt.md, mode `pgt-hybrid`):
///
///   drive a = W_pre·x + b_pre  →  node states s = ring(a) through the drive loop  →
///   logits z = W_out·s + b_out  →  softmax cross-entropy.
///
/// The pre-layer is trained by `PerturbativeTrainer` (two-sided, +,−,−,+ order, so a linear
/// drift of the device cancels over pairs of pairs): nothing can back-propagate through the
/// ring. The readout is digital, so each of those same forward passes also gives its exact
/// gradient at the states the ring produced; the step's readout update averages them (Adam).
/// The pre-layer starts as the fixed ±γ/√F mask of `RingReadoutTraining`, so training starts
/// from the classic reservoir and improves on it.
public final class RingHybridTraining {
    public struct Settings: Sendable {
        public var batch = 32
        /// Forward passes to spend (each streams one batch through the ring).
        public var budget = 2_000
        public var preLearningRate = 0.003
        public var readoutLearningRate = 0.01
        /// Decoupled weight decay λ of the readout's Adam (AdamW).
        public var readoutWeightDecay = 0.0
        /// σ of the pre-layer's perturbations, in drive units per parameter.
        public var sigma = 0.02
        public var inputScale = 0.8
        public var seed: UInt64 = 1
        public init() {}
    }

    public let loop: DriveLoop
    public let split: DatasetSplit
    public let settings: Settings
    public private(set) var forwardPasses = 0
    private let preNetwork: DenseNetwork
    private let readoutNetwork: DenseNetwork
    private let trainer: PerturbativeTrainer
    public private(set) var readoutParameters: [Double]
    private var readoutOptimizer: Optimizer
    private let readoutWorkspace: NetworkWorkspace
    private let preWorkspace: NetworkWorkspace

    public init(loop: DriveLoop, split: DatasetSplit, settings: Settings) {
        self.loop = loop
        self.split = split
        self.settings = settings
        let nodes = loop.settings.nodes
        let features = split.train.featureCount
        preNetwork = DenseNetwork(widths: [features, nodes], activations: [.identity], loss: .squaredError)
        readoutNetwork = DenseNetwork(
            widths: [nodes, split.train.classCount], activations: [.identity], loss: .softmaxCrossEntropy)
        let mask = RingReadoutTraining(loop: loop, inputScale: settings.inputScale, seed: settings.seed)
            .mask(features: features)
        let scale = settings.inputScale / Double(features).squareRoot()
        var pre = [Double](repeating: 0, count: preNetwork.parameterCount)
        for index in 0..<(nodes * features) { pre[index] = scale * mask[index] }
        var configuration = PerturbativeConfiguration()
        configuration.directionKind = .rademacher
        configuration.directionCount = 1
        configuration.sigma = settings.sigma
        configuration.learningRate = settings.preLearningRate
        configuration.optimizer = .adam
        configuration.schedule = .cosine
        configuration.seed = settings.seed
        trainer = PerturbativeTrainer(
            configuration: configuration, parameters: pre,
            totalSteps: settings.budget / configuration.forwardPassesPerStep)
        readoutParameters = readoutNetwork.initialParameters(seed: settings.seed)
        readoutOptimizer = Optimizer(kind: .adam, dimension: readoutNetwork.parameterCount)
        let largest = max(settings.batch, split.train.count, split.test.count)
        readoutWorkspace = NetworkWorkspace(network: readoutNetwork, capacity: largest)
        preWorkspace = NetworkWorkspace(network: preNetwork, capacity: largest)
    }

    /// The pre-layer's parameters (W_pre row-major N × F, then b_pre).
    public var preParameters: [Double] { trainer.parameters }

    /// The node states of `count` samples (rows of `inputs`) with pre-layer `pre`.
    func states(pre: UnsafeBufferPointer<Double>, inputs: UnsafeBufferPointer<Double>, count: Int) throws -> [Double] {
        preNetwork.forward(parameters: pre, inputs: inputs, count: count, workspace: preWorkspace)
        let drive = preWorkspace.outputs(count: count)
        var states = [Double](repeating: 0, count: drive.count)
        try states.withUnsafeMutableBufferPointer { output throws(LoopStopped) in
            try loop.run(drive: drive, inputCount: count, states: output)
        }
        return states
    }

    /// Trains until the budget is spent; returns the test accuracy.
    public func run(progress: (Int, Double) -> Void = { _, _ in }) throws -> Double {
        let train = split.train
        let width = train.featureCount
        var random = Xoshiro256StarStar(seed: settings.seed, stream: 2_700)
        var inputs = [Double](repeating: 0, count: settings.batch * width)
        var labels = [Int](repeating: 0, count: settings.batch)
        var readoutGradient = [Double](repeating: 0, count: readoutNetwork.parameterCount)
        var stepGradient = [Double](repeating: 0, count: readoutNetwork.parameterCount)
        let passesPerStep = trainer.configuration.forwardPassesPerStep
        while forwardPasses + passesPerStep <= settings.budget {
            for slot in 0..<settings.batch {
                let index = Int(random.next() % UInt64(train.count))
                for j in 0..<width { inputs[slot * width + j] = train.features[index * width + j] }
                labels[slot] = train.labels[index]
            }
            for index in stepGradient.indices { stepGradient[index] = 0 }
            var failure: Error?
            let record = inputs.withUnsafeBufferPointer { x in
                labels.withUnsafeBufferPointer { y in
                    trainer.step { pre in
                        do {
                            let states = try states(pre: pre, inputs: x, count: settings.batch)
                            return states.withUnsafeBufferPointer { s in
                                readoutParameters.withUnsafeBufferPointer { w in
                                    readoutGradient.withUnsafeMutableBufferPointer { g in
                                        let loss = readoutNetwork.lossAndGradient(
                                            parameters: w,
                                            batch: Batch(inputs: s, labels: y, targets: nil, count: settings.batch),
                                            workspace: readoutWorkspace, gradient: g)
                                        for index in g.indices { stepGradient[index] += g[index] }
                                        return loss
                                    }
                                }
                            }
                        } catch {
                            failure = error
                            return .nan
                        }
                    }
                }
            }
            if let failure { throw failure }
            forwardPasses += passesPerStep
            let scale = 1 / Double(passesPerStep)
            for index in stepGradient.indices { stepGradient[index] *= scale }
            let rate = Schedule.cosine.rate(
                base: settings.readoutLearningRate, step: trainer.step - 1,
                totalSteps: settings.budget / passesPerStep)
            stepGradient.withUnsafeBufferPointer { g in
                readoutParameters.withUnsafeMutableBufferPointer { p in
                    readoutOptimizer.apply(
                        gradient: g, learningRate: rate, weightDecay: settings.readoutWeightDecay, to: p)
                }
            }
            progress(forwardPasses, record.loss)
        }
        return try accuracy(split.test)
    }

    /// Accuracy of the current model on `data` (one stream through the ring).
    public func accuracy(_ data: Dataset) throws -> Double {
        let pre = trainer.parameters
        let states = try pre.withUnsafeBufferPointer { (p: UnsafeBufferPointer<Double>) throws -> [Double] in
            try data.features.withUnsafeBufferPointer { (x: UnsafeBufferPointer<Double>) throws -> [Double] in
                try self.states(pre: p, inputs: x, count: data.count)
            }
        }
        let predicted = states.withUnsafeBufferPointer { s in
            readoutParameters.withUnsafeBufferPointer { w in
                readoutNetwork.forward(parameters: w, inputs: s, count: data.count, workspace: readoutWorkspace)
                return readoutNetwork.predictedClasses(workspace: readoutWorkspace, count: data.count)
            }
        }
        return Double(zip(predicted, data.labels).filter { $0 == $1 }.count) / Double(data.count)
    }
}
