import Foundation
import NeuralNet
import PerturbativeTraining
import ReservoirFiles
import SeededRandom

/// How a purely digital network is trained (`ringlab train --model mlp`).
public struct TrainingSettings: Sendable, Codable, Equatable {
    public enum Mode: String, Sendable, Codable, CaseIterable { case pgt, backprop, spsa }

    public var task = "digits"
    public var mode = Mode.pgt
    /// Forward passes to spend (backprop counts 2 per step: forward and backward).
    public var budget = 10_000
    public var hidden = 40
    public var batch = 64
    /// When set, the batch grows from `batch` to this size as t² over the run (t: the fraction
    /// of the budget spent; 0 or more than the training split: the whole split). Late in a run
    /// the gradient is small and a perturbative estimate's noise is then mostly the batch's
    /// sampling noise, which vanishes on the whole split (docs/pgt.md).
    public var finalBatch: Int?
    /// Everything perturbative: K, σ, directions, optimizer, learning rate, schedule…
    public var perturbative = PerturbativeConfiguration()
    /// Learning rate of backprop's Adam.
    public var backpropLearningRate = 0.002
    /// Perturb one layer per step, in turn (PGT's block mode).
    public var layerBlocks = false
    public var seed: UInt64 = 1
    /// Evaluations on the test split over the run.
    public var evaluations = 20
    /// PGT's and SPSA's forward passes in single precision (twice as fast; the loss is summed
    /// in double). Backprop always runs in double.
    public var singlePrecision = true
    /// Row chunks each forward pass splits into, run on as many threads as the machine has
    /// cores for (a setting, not the core count, so a run's results do not depend on the
    /// machine; docs/pgt.md has the timings).
    public var chunks = 2

    public init() {}
}

/// One evaluation of the model on both splits.
public struct Evaluation: Sendable, Codable {
    public var step: Int
    public var forwardPasses: Int
    public var trainLoss: Double
    public var trainAccuracy: Double
    public var testLoss: Double
    public var testAccuracy: Double
}

/// What `summary.json` holds.
public struct TrainingSummary: Sendable, Codable {
    public var test_accuracy: Double
    public var train_accuracy: Double
    public var test_loss: Double
    public var forward_passes: Int
    public var steps: Int
    public var seconds: Double
    public var mode: String
    public var seed: UInt64
    public var task: String
}

/// The state a checkpoint keeps: enough to continue exactly as an uninterrupted run would.
struct TrainingCheckpoint: Codable {
    var parameters: [Double]
    var optimizer: Optimizer
    var step: Int
    var forwardPasses: Int
    var samplesDrawn: Int
}

/// A training run of a dense network on a dataset, by backprop, PGT or SPSA.
public final class DigitalTraining {
    public let settings: TrainingSettings
    public let split: DatasetSplit
    public let network: DenseNetwork
    public private(set) var parameters: [Double]
    public private(set) var forwardPasses = 0
    public private(set) var step = 0
    public private(set) var evaluationsDone: [Evaluation] = []

    private var optimizer: Optimizer
    private var perturbative: PerturbativeTrainer?
    private var samplesDrawn = 0
    private let workspace: NetworkWorkspace
    private let evaluationWorkspace: NetworkWorkspace
    private var batchInputs: [Double]
    /// Single-precision copies of the batch and of the training split, for `.blasSingle`.
    private var singleBatchInputs: [Float]
    private let singleTrainInputs: [Float]
    private var batchLabels: [Int]
    private var gradient: [Double]
    private let runDirectory: RunDirectory?

    /// A run of `settings` on `split`, logging into `runDirectory` when given, on up to
    /// `threads` threads (default: the machine's cores; the results do not depend on it).
    public init(
        settings: TrainingSettings, split: DatasetSplit, runDirectory: RunDirectory? = nil, threads: Int? = nil
    ) {
        self.settings = settings
        self.split = split
        self.runDirectory = runDirectory
        var network = DenseNetwork(
            widths: [split.train.featureCount, settings.hidden, split.train.classCount],
            activations: [.tanh, .identity],
            loss: .softmaxCrossEntropy)
        network.kernels = settings.mode != .backprop && settings.singlePrecision ? .blasSingle : .blas
        self.network = network
        parameters = network.initialParameters(seed: settings.seed)
        optimizer = Optimizer(kind: .adam, dimension: network.parameterCount)
        let largestBatch = Self.largestBatch(settings: settings, trainCount: split.train.count)
        workspace = NetworkWorkspace(
            network: network, capacity: largestBatch, chunks: settings.chunks, threads: threads)
        evaluationWorkspace = NetworkWorkspace(
            network: network, capacity: max(split.train.count, split.test.count), chunks: settings.chunks,
            threads: threads)
        batchInputs = [Double](repeating: 0, count: largestBatch * split.train.featureCount)
        singleBatchInputs = [Float](repeating: 0, count: largestBatch * split.train.featureCount)
        singleTrainInputs = split.train.features.map { Float($0) }
        batchLabels = [Int](repeating: 0, count: largestBatch)
        gradient = [Double](repeating: 0, count: network.parameterCount)
        if settings.mode != .backprop {
            var configuration = settings.perturbative
            configuration.method = settings.mode == .spsa ? .spsa : .pgt
            configuration.seed = settings.seed
            if settings.layerBlocks { configuration.blocks = network.layerRanges }
            let steps = settings.budget / configuration.forwardPassesPerStep
            perturbative = PerturbativeTrainer(configuration: configuration, parameters: parameters, totalSteps: steps)
        }
    }

    /// Continues from the run directory's checkpoint.
    /// A run stopped before its first checkpoint starts again from the beginning (its logs
    /// are cleared), which is where an uninterrupted run would have been.
    public func resume() throws {
        guard let runDirectory else { return }
        guard runDirectory.hasCheckpoint else {
            try runDirectory.truncateLogs(toStep: 0, forwardPasses: 0, evaluation: Evaluation.self)
            return
        }
        let checkpoint: TrainingCheckpoint = try runDirectory.loadCheckpoint()
        parameters = checkpoint.parameters
        forwardPasses = checkpoint.forwardPasses
        step = checkpoint.step
        samplesDrawn = checkpoint.samplesDrawn
        if let perturbative {
            perturbative.restore(
                parameters: checkpoint.parameters, optimizer: checkpoint.optimizer, step: checkpoint.step)
        } else {
            optimizer = checkpoint.optimizer
        }
        try runDirectory.truncateLogs(toStep: step, forwardPasses: forwardPasses, evaluation: Evaluation.self)
        evaluationsDone = try runDirectory.loadEvaluations()
    }

    static func largestBatch(settings: TrainingSettings, trainCount: Int) -> Int {
        guard let final = settings.finalBatch else { return settings.batch }
        return max(settings.batch, final <= 0 ? trainCount : min(final, trainCount))
    }

    /// The batch size after `passes` forward passes: `batch`, or growing as t² to the final one.
    public func batchSize(afterPasses passes: Int) -> Int {
        let largest = Self.largestBatch(settings: settings, trainCount: split.train.count)
        guard largest > settings.batch else { return settings.batch }
        let t = min(Double(passes) / Double(settings.budget), 1)
        return settings.batch + Int((Double(largest - settings.batch) * t * t).rounded())
    }

    /// The next training batch of `count`: a seeded permutation per epoch, samples taken in order.
    private func fillBatch(count: Int) {
        let train = split.train
        let width = train.featureCount
        // Only the precision the step reads: the copy is most of a step's overhead.
        let copiesDouble = network.kernels != .blasSingle || perturbative?.configuration.perSampleDirections == true
        batchInputs.withUnsafeMutableBufferPointer { doubleBatch in
            singleBatchInputs.withUnsafeMutableBufferPointer { singleBatch in
                train.features.withUnsafeBufferPointer { doubleFeatures in
                    singleTrainInputs.withUnsafeBufferPointer { singleFeatures in
                        for slot in 0..<count {
                            let epoch = samplesDrawn / train.count
                            if permutationEpoch != epoch {
                                permutation = Self.permutation(train.count, seed: settings.seed, epoch: epoch)
                                permutationEpoch = epoch
                            }
                            let index = permutation[samplesDrawn % train.count]
                            if copiesDouble {
                                (doubleBatch.baseAddress! + slot * width).update(
                                    from: doubleFeatures.baseAddress! + index * width, count: width)
                            } else {
                                (singleBatch.baseAddress! + slot * width).update(
                                    from: singleFeatures.baseAddress! + index * width, count: width)
                            }
                            batchLabels[slot] = train.labels[index]
                            samplesDrawn += 1
                        }
                    }
                }
            }
        }
    }
    private var permutation: [Int] = []
    private var permutationEpoch = -1

    static func permutation(_ count: Int, seed: UInt64, epoch: Int) -> [Int] {
        var random = Xoshiro256StarStar(seed: seed, stream: 900 + UInt64(epoch))
        var order = Array(0..<count)
        // j uniform in 0...i as the high word of a 64×64-bit product (Lemire): no division,
        // which a near-whole-split batch needs once a step. (Bias below 2⁻⁵⁰ at our sizes.)
        for i in stride(from: count - 1, to: 0, by: -1) {
            order.swapAt(i, Int(random.next() % UInt64(i + 1)))
        }
        return order
    }

    /// Loss and accuracy of the current parameters on a whole split.
    public func evaluate(_ data: Dataset) -> (loss: Double, accuracy: Double) {
        data.features.withUnsafeBufferPointer { x in
            data.labels.withUnsafeBufferPointer { y in
                parameters.withUnsafeBufferPointer { p in
                    let batch = Batch(inputs: x, labels: y, targets: nil, count: data.count)
                    let loss = network.loss(parameters: p, batch: batch, workspace: evaluationWorkspace)
                    let predicted = network.predictedClasses(workspace: evaluationWorkspace, count: data.count)
                    let correct = zip(predicted, data.labels).filter { $0 == $1 }.count
                    return (loss, Double(correct) / Double(data.count))
                }
            }
        }
    }

    /// Trains until the budget is spent; `progress` hears of every evaluation.
    public func run(progress: (Evaluation) -> Void = { _ in }) throws -> TrainingSummary {
        let started = Date()
        let passesPerStep = settings.mode == .backprop ? 2 : perturbative!.configuration.forwardPassesPerStep
        let interval = max(settings.budget / max(settings.evaluations, 1), passesPerStep)
        let checkpointInterval = max(settings.budget / 10, passesPerStep)
        var nextEvaluation = (forwardPasses / interval + 1) * interval
        var nextCheckpoint = (forwardPasses / checkpointInterval + 1) * checkpointInterval
        var lines: [String] = []
        while forwardPasses + passesPerStep <= settings.budget {
            let count = batchSize(afterPasses: forwardPasses)
            let (loss, norm): (Double, Double)
            if count == split.train.count {
                // The whole split: its own order serves (a mean does not depend on it), no copy.
                samplesDrawn += count
                (loss, norm) = split.train.features.withUnsafeBufferPointer { x in
                    split.train.labels.withUnsafeBufferPointer { y in
                        singleTrainInputs.withUnsafeBufferPointer { single in
                            trainStep(Batch(inputs: x, labels: y, targets: nil, count: count, singleInputs: single))
                        }
                    }
                }
            } else {
                fillBatch(count: count)
                (loss, norm) = batchInputs.withUnsafeBufferPointer { x in
                    batchLabels.withUnsafeBufferPointer { y in
                        singleBatchInputs.withUnsafeBufferPointer { single in
                            trainStep(Batch(inputs: x, labels: y, targets: nil, count: count, singleInputs: single))
                        }
                    }
                }
            }
            forwardPasses += passesPerStep
            step += 1
            lines.append(
                "{\"step\":\(step),\"forward_passes\":\(forwardPasses),\"loss\":\(loss),\"gradient_norm\":\(norm)}")
            if forwardPasses >= nextEvaluation {
                nextEvaluation += interval
                let evaluation = record()
                progress(evaluation)
            }
            if forwardPasses >= nextCheckpoint {
                nextCheckpoint += checkpointInterval
                try runDirectory?.appendSteps(lines)
                lines.removeAll(keepingCapacity: true)
                try saveCheckpoint()
            }
        }
        try runDirectory?.appendSteps(lines)
        if evaluationsDone.last?.forwardPasses != forwardPasses { progress(record()) }
        try saveCheckpoint()
        let final = evaluationsDone.last!
        let summary = TrainingSummary(
            test_accuracy: final.testAccuracy, train_accuracy: final.trainAccuracy, test_loss: final.testLoss,
            forward_passes: forwardPasses, steps: step, seconds: Date().timeIntervalSince(started),
            mode: settings.mode.rawValue, seed: settings.seed, task: settings.task)
        try runDirectory?.finish(summary: summary, evaluations: evaluationsDone)
        return summary
    }

    private func record() -> Evaluation {
        let train = evaluate(split.train)
        let test = evaluate(split.test)
        let evaluation = Evaluation(
            step: step, forwardPasses: forwardPasses, trainLoss: train.loss, trainAccuracy: train.accuracy,
            testLoss: test.loss,
            testAccuracy: test.accuracy)
        evaluationsDone.append(evaluation)
        try? runDirectory?.appendEvaluation(evaluation)
        return evaluation
    }

    private func saveCheckpoint() throws {
        try runDirectory?.saveCheckpoint(
            TrainingCheckpoint(
                parameters: parameters, optimizer: perturbative?.optimizer ?? optimizer, step: step,
                forwardPasses: forwardPasses, samplesDrawn: samplesDrawn))
    }

    /// One step on `batch`: (loss, gradient norm).
    private func trainStep(_ batch: Batch) -> (Double, Double) {
        let x = batch.inputs
        let y = batch.labels!
        let count = batch.count
        if let perturbative, perturbative.configuration.perSampleDirections {
            let width = split.train.featureCount
            // One sample at a time: plain loops beat a BLAS call's overhead here.
            var network = network
            network.kernels = .handWritten
            let record = perturbative.step(sampleCount: count) { p, sample in
                let one = Batch(
                    inputs: UnsafeBufferPointer(rebasing: x[(sample * width)..<((sample + 1) * width)]),
                    labels: UnsafeBufferPointer(rebasing: y[sample..<(sample + 1)]), targets: nil, count: 1)
                return network.loss(parameters: p, batch: one, workspace: workspace)
            }
            parameters = perturbative.parameters
            return (record.loss, record.gradientNorm)
        }
        if let perturbative {
            let record = perturbative.step { p in
                network.loss(parameters: p, batch: batch, workspace: workspace)
            }
            parameters = perturbative.parameters
            return (record.loss, record.gradientNorm)
        }
        let loss = parameters.withUnsafeBufferPointer { p in
            gradient.withUnsafeMutableBufferPointer { g in
                network.lossAndGradient(parameters: p, batch: batch, workspace: workspace, gradient: g)
            }
        }
        let norm = gradient.withUnsafeMutableBufferPointer { clipGradient($0, maximumNorm: nil) }
        gradient.withUnsafeBufferPointer { g in
            parameters.withUnsafeMutableBufferPointer { p in
                optimizer.apply(gradient: g, learningRate: settings.backpropLearningRate, to: p)
            }
        }
        return (loss, norm)
    }
}
