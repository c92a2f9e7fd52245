import Foundation
import NeuralNet
import PerturbativeTraining
import SeededRandom

/// A transformer with a reservoir layer on a classification dataset (`ringlab train
/// transformer`), trained as `TransformerSettings.Mode` says, on batches from a
/// `BatchSampler`, with Adam on a cosine schedule.
public final class TransformerModel: TrainingModel {
    public let settings: TransformerSettings
    public let split: DatasetSplit
    public let network: TransformerNetwork
    public private(set) var parameters: [Double]
    private var optimizer: Optimizer
    private var gradient: [Double]
    private let sampler: BatchSampler
    /// The weight matrices weight decay shrinks: all of them, or (readout) those downstream.
    private let decayed: [Range<Int>]
    private let perturbation: PerturbativeReservoirGradient?
    /// The reservoir when it is on a device (the ring): sessions, checkpoints, device time.
    public let device: (any DeviceReservoir)?
    private var steps = 0
    /// Wall time in steps, for the summary.
    public private(set) var stepNanoseconds: Int64 = 0

    /// A model for `settings` on `split` whose reservoir (nil for `.none`) is `reservoir`.
    public init(settings: TransformerSettings, split: DatasetSplit, reservoir: (any ReservoirLayer)?) {
        precondition(settings.problem == nil, settings.problem ?? "")
        self.settings = settings
        self.split = split
        device = reservoir as? any DeviceReservoir
        var shape = settings.shape
        if reservoir == nil { shape.reservoirBlock = nil }
        shape.classes = split.train.classCount
        precondition(split.train.featureCount == shape.signalLength, "signals of \(shape.signalLength) samples expected")
        network = TransformerNetwork(shape: shape, reservoir: reservoir, capacity: settings.batch)
        parameters = network.initialParameters(seed: settings.seed)
        optimizer = Optimizer(kind: .adam, dimension: parameters.count)
        gradient = [Double](repeating: 0, count: parameters.count)
        sampler = BatchSampler(split: split, seed: settings.seed, capacity: settings.batch)
        let frozen = settings.mode == .readout ? network.upstreamRange : 0..<0
        decayed = network.weightRanges.filter { !frozen.overlaps($0) }
        switch settings.mode {
        case .backprop:
            perturbation = nil
            network.reservoirSublayer?.gradient = ExactReservoirGradient()
        case .pgtHybrid:
            let estimator = PerturbativeReservoirGradient(sigma: settings.sigma, seed: settings.seed)
            perturbation = estimator
            network.reservoirSublayer?.gradient = estimator
        case .readout:
            perturbation = nil
            network.reservoirSublayer?.gradient = nil
        }
    }

    public var label: RunLabel {
        RunLabel(
            model: "transformer", task: settings.task, mode: settings.mode.rawValue, seed: settings.seed,
            validation: settings.validation)
    }
    public var metric: Metric { .accuracy }
    public var passesPerStep: Int { settings.passesPerStep }

    public func step(_ index: Int, forwardPasses: Int) throws -> (loss: Double, gradientNorm: Double) {
        let started = DispatchTime.now().uptimeNanoseconds
        defer { stepNanoseconds += Int64(DispatchTime.now().uptimeNanoseconds - started) }
        let count = settings.batch
        sampler.fill(count: count, double: true)
        let loss = try sampler.inputs.withUnsafeBufferPointer { x in
            try sampler.labels.withUnsafeBufferPointer { y in
                try parameters.withUnsafeBufferPointer { p in
                    let loss = try network.forward(p, inputs: x.baseAddress!, labels: y.baseAddress!, samples: count, training: true)
                    gradient.withUnsafeMutableBufferPointer { network.backward(p, gradient: $0) }
                    return loss
                }
            }
        }
        let norm = gradient.withUnsafeMutableBufferPointer { clipGradient($0, maximumNorm: nil) }
        let rate = settings.schedule.rate(base: settings.learningRate, step: steps, totalSteps: settings.totalSteps)
        // Decoupled weight decay on the weight matrices only (AdamW's, applied before the step).
        if settings.weightDecay > 0 {
            let shrink = 1 - rate * settings.weightDecay
            for range in decayed { for index in range { parameters[index] *= shrink } }
        }
        gradient.withUnsafeBufferPointer { g in
            parameters.withUnsafeMutableBufferPointer { p in optimizer.apply(gradient: g, learningRate: rate, to: p) }
        }
        steps += 1
        return (loss, norm)
    }

    /// Loss and accuracy of the current parameters on a whole dataset.
    public func measure(_ data: Dataset) throws -> SplitMeasurement {
        let result = try data.features.withUnsafeBufferPointer { x in
            try data.labels.withUnsafeBufferPointer { y in
                try parameters.withUnsafeBufferPointer { p in try network.measure(p, inputs: x, labels: y, count: data.count) }
            }
        }
        return SplitMeasurement(loss: result.loss, metric: result.accuracy)
    }

    public func measure() throws -> (train: SplitMeasurement, test: SplitMeasurement) {
        device?.measuring = true
        defer { device?.measuring = false }
        return (try measure(split.train), try measure(split.test))
    }

    // MARK: A reservoir on a device

    public func begin(fresh: Bool, progress: (TrainingProgress) -> Void) throws -> Int {
        try device?.begin()
        return 0
    }

    public func end() { device?.end() }

    public func checkpoint(_ save: (State) throws -> Void) throws {
        guard let device else { return try save(state) }
        try device.checkpoint { try save(state) }
    }

    public var deviceSeconds: Double? { device?.deviceSeconds }
    public var loopFigures: LoopFigures? { device?.loopFigures }

    public struct State: Codable {
        var parameters: [Double]
        var optimizer: Optimizer
        var steps: Int
        var samplesDrawn: Int
        /// The perturbation's direction stream (pgt-hybrid).
        var directions: Xoshiro256StarStar?
        /// The device's use so far (the ring).
        var device: DeviceUsage?
    }

    public var state: State {
        State(
            parameters: parameters, optimizer: optimizer, steps: steps, samplesDrawn: sampler.samplesDrawn,
            directions: perturbation?.randomState, device: device?.usage)
    }

    public func restore(_ state: State) throws {
        guard state.parameters.count == parameters.count else {
            throw TransformerModelError(
                description: "the checkpoint holds \(state.parameters.count) parameters; this model has \(parameters.count)")
        }
        parameters = state.parameters
        optimizer = state.optimizer
        steps = state.steps
        sampler.samplesDrawn = state.samplesDrawn
        if let directions = state.directions { perturbation?.randomState = directions }
        if let usage = state.device { device?.usage = usage }
    }

    public func complete(_ summary: inout TrainingSummary) {
        summary.reservoir = network.reservoirSublayer?.reservoir.kind ?? "none"
        summary.parameters = parameters.count
        summary.trainable_parameters = settings.mode == .readout
            ? parameters.count - network.upstreamRange.count : parameters.count
        if settings.mode == .pgtHybrid { summary.sigma = settings.sigma }
        device?.complete(&summary)
    }
}

/// A transformer run that cannot continue as asked.
public struct TransformerModelError: Error, CustomStringConvertible {
    public var description: String

    public init(description: String) { self.description = description }
}
