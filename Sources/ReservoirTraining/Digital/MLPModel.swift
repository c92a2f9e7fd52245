import Foundation
import NeuralNet
import PerturbativeTraining

/// A dense network on a dataset (`ringlab train mlp`): 64-40-10 tanh on digits by default,
/// trained by any `ParameterUpdate` on batches from a `BatchSampler`.
public final class MLPModel: TrainingModel {
    public let settings: MLPSettings
    public let split: DatasetSplit
    public let network: DenseNetwork
    public let update: any ParameterUpdate

    private let sampler: BatchSampler
    private let workspace: NetworkWorkspace
    private let evaluationWorkspace: NetworkWorkspace
    private let largestBatch: Int

    /// A model for `settings` on `split`, its passes on up to `threads` threads (default: the
    /// machine's cores; the results do not depend on it).
    public init(settings: MLPSettings, split: DatasetSplit, threads: Int? = nil) {
        self.settings = settings
        self.split = split
        var network = DenseNetwork(
            widths: [split.train.featureCount] + settings.hidden.widths + [split.train.classCount],
            activations: settings.hidden.widths.map { _ in .tanh } + [.identity], loss: .softmaxCrossEntropy)
        network.kernels = settings.mode != .backprop && settings.singlePrecision ? .blasSingle : .blas
        self.network = network
        let parameters = network.initialParameters(seed: settings.seed, initialization: settings.initialization ?? .glorot)
        if settings.mode == .backprop {
            update = BackpropUpdate(
                parameters: parameters, learningRate: settings.backpropLearningRate,
                schedule: settings.backpropSchedule ?? .constant, totalSteps: settings.budget / 2)
        } else {
            var configuration = settings.perturbative
            configuration.method = settings.mode == .spsa ? .spsa : .pgt
            configuration.seed = settings.seed
            if settings.layerBlocks { configuration.blocks = network.layerRanges }
            update = PerturbativeUpdate(
                configuration: configuration, parameters: parameters,
                totalSteps: settings.budget / configuration.forwardPassesPerStep)
        }
        largestBatch = Self.largestBatch(settings: settings, trainCount: split.train.count)
        sampler = BatchSampler(split: split, seed: settings.seed, capacity: largestBatch)
        workspace = NetworkWorkspace(network: network, capacity: largestBatch, chunks: settings.chunks, threads: threads)
        evaluationWorkspace = NetworkWorkspace(
            network: network, capacity: max(split.train.count, split.test.count), chunks: settings.chunks,
            threads: threads)
    }

    public var label: RunLabel {
        RunLabel(
            model: "mlp", task: settings.task, mode: settings.mode.rawValue, seed: settings.seed,
            validation: settings.validation)
    }
    public var metric: Metric { .accuracy }
    public var passesPerStep: Int { update.passesPerStep }
    public var parameters: [Double] { update.parameters }

    static func largestBatch(settings: MLPSettings, trainCount: Int) -> Int {
        guard let final = settings.finalBatch else { return settings.batch }
        return max(settings.batch, final <= 0 ? trainCount : min(final, trainCount))
    }

    /// The batch size after `passes` forward passes: `batch`, or growing as t² to the final one.
    public func batchSize(afterPasses passes: Int) -> Int {
        guard largestBatch > settings.batch else { return settings.batch }
        let t = min(Double(passes) / Double(settings.budget), 1)
        return settings.batch + Int((Double(largestBatch - settings.batch) * t * t).rounded())
    }

    public func step(_ index: Int, forwardPasses: Int) throws -> (loss: Double, gradientNorm: Double) {
        let count = batchSize(afterPasses: forwardPasses)
        if count == split.train.count {
            // The whole split: its own order serves (a mean does not depend on it), no copy.
            sampler.samplesDrawn += count
            return split.train.features.withUnsafeBufferPointer { x in
                split.train.labels.withUnsafeBufferPointer { y in
                    sampler.singleTrainInputs.withUnsafeBufferPointer { single in
                        update.step(
                            network: network,
                            batch: Batch(inputs: x, labels: y, count: count, singleInputs: single),
                            workspace: workspace)
                    }
                }
            }
        }
        sampler.fill(count: count, double: update.readsDoubleInputs(kernels: network.kernels))
        return sampler.inputs.withUnsafeBufferPointer { x in
            sampler.labels.withUnsafeBufferPointer { y in
                sampler.singleInputs.withUnsafeBufferPointer { single in
                    update.step(
                        network: network,
                        batch: Batch(inputs: x, labels: y, count: count, singleInputs: single),
                        workspace: workspace)
                }
            }
        }
    }

    /// Loss and accuracy of the current parameters on a whole split.
    public func measure(_ data: Dataset) -> SplitMeasurement {
        data.features.withUnsafeBufferPointer { x in
            data.labels.withUnsafeBufferPointer { y in
                update.parameters.withUnsafeBufferPointer { p in
                    let batch = Batch(inputs: x, labels: y, count: data.count)
                    let loss = network.loss(parameters: p, batch: batch, workspace: evaluationWorkspace)
                    let predicted = network.predictedClasses(workspace: evaluationWorkspace, count: data.count)
                    return SplitMeasurement(loss: loss, metric: Accuracy.of(predicted, labels: data.labels[...]))
                }
            }
        }
    }

    public func measure() throws -> (train: SplitMeasurement, test: SplitMeasurement) {
        (measure(split.train), measure(split.test))
    }

    public struct State: Codable {
        var update: UpdateState
        var samplesDrawn: Int
    }

    public var state: State { State(update: update.state, samplesDrawn: sampler.samplesDrawn) }

    public func restore(_ state: State) throws {
        update.restore(state.update)
        sampler.samplesDrawn = state.samplesDrawn
    }
}

/// The fraction of predictions equal to their labels.
public enum Accuracy {
    public static func of(_ predicted: [Int], labels: ArraySlice<Int>) -> Double {
        precondition(predicted.count == labels.count)
        let correct = zip(predicted, labels).filter { $0 == $1 }.count
        return Double(correct) / Double(predicted.count)
    }
}
