import CRealtime
import Foundation
import NeuralNet
import PerturbativeTraining
import ReservoirBenchmarks
import ReservoirControl
import ReservoirHAL
import SeededRandom

/// The ring as a layer of a network (docs/pgt.md, "On the ring"):
///
///   drive a = W_pre·x + b_pre  →  node states s = ring(a) through the drive loop  →
///   outputs z = W_out·s + b_out  →  softmax cross-entropy (or ½(z − y)² for regression).
///
/// θ is one flat vector with two views, the pre-layer (W_pre row-major N × F, then b_pre; with
/// a hidden layer, that layer first) and the readout. Nothing back-propagates through the
/// ring, so the pre-layer learns by a `RingPerturbation` (or stays frozen); the readout learns
/// as its `RingReadoutLearning` says. The pre-layer starts as the fixed mask of the classic
/// reservoir (γ·m/√F, m = ±1), so training starts there and improves on it.
///
/// A step's evaluations go to the drive loop together: their drives are computed first, then
/// streamed back to back in one open session, so the converters do not idle between them.
public final class RingModel: TrainingModel {
    public let loop: DriveLoop
    public let task: RingTask
    public let settings: RingSettings
    public let perturbation: (any RingPerturbation)?
    public let readout: any RingReadoutLearning
    /// θ: the pre-layer's parameters, then the readout's.
    public internal(set) var theta: [Double]
    public let preCount: Int
    /// σ_x of the noise added to the training batches' inputs (`RingModel.inputNoise`).
    public let inputNoise: Double
    /// Samples streamed through the board, summed over the run.
    public internal(set) var samplesStreamed = 0
    /// Wall time spent in forward passes (pre-layer, ring, readout loss) and in whole steps.
    public internal(set) var forwardNanoseconds: Int64 = 0
    public private(set) var stepNanoseconds: Int64 = 0
    public private(set) var steps = 0

    let preNetwork: DenseNetwork
    let readoutNetwork: DenseNetwork
    let preWorkspace: NetworkWorkspace
    let readoutWorkspace: NetworkWorkspace
    private var checkpointIndex = 0
    /// Evaluation periods streamed by the processes before this one (a resumed run).
    private var earlierEvaluationPeriods = 0
    /// Evaluation periods streamed by measurements (on both splits), across the run.
    var measurementPeriods = 0
    var measuring = false
    var drive: [Double] = []
    var states: [Double] = []
    var gradientScratch: [Double]
    private var readoutGradient: [Double]

    /// A model for `settings` on `task` through `loop`, learning by `perturbation` (nil: the
    /// pre-layer frozen) and `readout`.
    public init(
        loop: DriveLoop, task: RingTask, settings: RingSettings, perturbation: (any RingPerturbation)?,
        readout: any RingReadoutLearning
    ) {
        self.loop = loop
        self.task = task
        self.settings = settings
        self.perturbation = perturbation
        self.readout = readout
        let nodes = loop.settings.nodes
        let hidden = settings.resolvedPreHidden(sequence: task.isSequence)
        let widths = hidden.map { [task.featureCount, $0, nodes] } ?? [task.featureCount, nodes]
        preNetwork = DenseNetwork(
            widths: widths, activations: hidden == nil ? [.identity] : [.tanh, .identity],
            loss: .squaredError)
        readoutNetwork = DenseNetwork(
            widths: [nodes, task.outputCount], activations: [.identity],
            loss: task.isRegression ? .squaredError : .softmaxCrossEntropy)
        preCount = preNetwork.parameterCount
        inputNoise = Self.inputNoise(settings, loop: loop, sequence: task.isSequence)
        // The layer that drives the nodes starts as the mask ±γ/√fan-in; a hidden layer before
        // it (Glorot, zero biases) feeds it tanh units in place of the features.
        var pre = preNetwork.initialParameters(seed: settings.seed)
        let last = widths.count - 2
        let fanIn = widths[last]
        let mask = Self.mask(nodes: nodes, features: fanIn, seed: settings.seed)
        let scale = settings.inputScale / Double(fanIn).squareRoot()
        for index in 0..<(nodes * fanIn) { pre[preNetwork.weightOffsets[last] + index] = scale * mask[index] }
        theta = pre + readoutNetwork.initialParameters(seed: settings.seed)
        let largest = max(settings.batch + settings.washout, task.largestEvaluation)
        preWorkspace = NetworkWorkspace(network: preNetwork, capacity: largest)
        readoutWorkspace = NetworkWorkspace(network: readoutNetwork, capacity: largest)
        gradientScratch = [Double](repeating: 0, count: readoutNetwork.parameterCount)
        readoutGradient = [Double](repeating: 0, count: readoutNetwork.parameterCount)
        perturbation?.attach(to: self)
    }

    /// The fixed ±1 mask of the classic reservoir, N × F, from the seed.
    public static func mask(nodes: Int, features: Int, seed: UInt64) -> [Double] {
        BinaryMask.values(count: nodes * features, seed: seed, stream: 2_600)
    }

    public var label: RunLabel {
        RunLabel(
            model: "ring", task: settings.task, mode: settings.mode.rawValue, seed: settings.seed,
            validation: settings.validation)
    }
    public var metric: Metric { task.isRegression ? .nrmse : .accuracy }
    public var passesPerStep: Int { perturbation?.passesPerStep ?? 1 }
    public var readoutCount: Int { readoutNetwork.parameterCount }
    /// The part of θ that perturbations cover: the pre-layer, and the readout if it is perturbed.
    public var perturbedWidth: Int { readout.isPerturbed ? theta.count : preCount }
    public var preParameters: ArraySlice<Double> { theta[0..<preCount] }
    public var readoutParameters: ArraySlice<Double> { theta[preCount...] }

    // MARK: The run

    public func begin(fresh: Bool, progress: (TrainingProgress) -> Void) throws -> Int {
        if let simulation = loop.board.simulation { simulation.restart(seed: restartSeed(checkpointIndex)) }
        try loop.openSession()
        do {
            guard fresh else { return 0 }
            var passes = try readout.begin(model: self)
            if settings.warmStartReadout, task.isRegression, perturbation != nil {
                passes += try fitReadoutByRidge(validation: { min(500, $0 / 4) })
            }
            if let perturbation { passes += try perturbation.begin(model: self, progress: progress) }
            return passes
        } catch {
            loop.closeSession()
            throw error
        }
    }

    public func end() { loop.closeSession() }

    public func step(_ index: Int, forwardPasses: Int) throws -> (loss: Double, gradientNorm: Double) {
        guard let perturbation else { preconditionFailure("a frozen pre-layer makes no steps (budget 0)") }
        let started = rt_monotonic_nanoseconds()
        defer {
            stepNanoseconds += rt_monotonic_nanoseconds() - started
            steps += 1
        }
        let rows = task.trainingBatch(
            step: index, batch: settings.batch, washout: settings.washout, seed: settings.seed, inputNoise: inputNoise)
        for i in readoutGradient.indices { readoutGradient[i] = 0 }
        let record = try readoutGradient.withUnsafeMutableBufferPointer { g in
            try perturbation.step(model: self, rows: rows, readoutGradient: readout.wantsGradient ? g : nil)
        }
        try readoutGradient.withUnsafeMutableBufferPointer { g in
            try theta.withUnsafeMutableBufferPointer { t in
                try readout.update(
                    readout: UnsafeMutableBufferPointer(rebasing: t[preCount...]), gradient: g,
                    passes: perturbation.passesPerStep, step: index,
                    totalSteps: settings.budget / perturbation.passesPerStep)
            }
        }
        return (record.loss, record.gradientNorm)
    }

    public func complete(_ summary: inout TrainingSummary) {
        let statistics = loop.statistics
        let period = loop.period.nanoseconds
        summary.nodes = loop.settings.nodes
        summary.sigma = perturbation?.sigma
        summary.perturb = perturbation?.kind.rawValue
        summary.converter_utilization = statistics.utilizationAsPaced(periodNanoseconds: period)
        summary.samples_streamed = samplesStreamed
        summary.device_seconds = Double(earlierEvaluationPeriods + statistics.evaluationPeriods) * Double(period) / 1e9
        summary.device_seconds_training = deviceSeconds
        summary.device_seconds_evaluation = Double(measurementPeriods) * Double(period) / 1e9
    }

    /// The seed a simulated board restarts from at checkpoint `index`.
    private func restartSeed(_ index: Int) -> UInt64 {
        var random = Xoshiro256StarStar(seed: settings.seed, stream: 4_100 + UInt64(index))
        return random.next()
    }

    public struct State: Codable {
        var theta: [Double]
        var perturbation: PerturbationState?
        var readoutOptimizer: Optimizer?
        var checkpointIndex: Int
        /// Device use so far, so that a resumed run's totals include the earlier process's.
        var samplesStreamed: Int
        var evaluationPeriods: Int
        var measurementPeriods: Int
    }

    public var state: State {
        State(
            theta: theta, perturbation: perturbation?.state, readoutOptimizer: readout.optimizer,
            checkpointIndex: checkpointIndex, samplesStreamed: samplesStreamed,
            evaluationPeriods: earlierEvaluationPeriods + loop.statistics.evaluationPeriods,
            measurementPeriods: measurementPeriods)
    }

    public func restore(_ state: State) throws {
        guard state.theta.count == theta.count else {
            throw RingTaskError(description: "the checkpoint's θ has \(state.theta.count) values; this model has \(theta.count)")
        }
        theta = state.theta
        if let saved = state.perturbation { perturbation?.restore(saved, model: self) }
        readout.optimizer = state.readoutOptimizer
        checkpointIndex = state.checkpointIndex
        samplesStreamed = state.samplesStreamed
        measurementPeriods = state.measurementPeriods
        earlierEvaluationPeriods = state.evaluationPeriods - loop.statistics.evaluationPeriods
    }

    /// Saves a checkpoint. The session closes around it and a simulated board restarts from a
    /// seed of the checkpoint's, which a resumed run does too: both then see the same device.
    /// Runs without a folder cycle the session and the simulation all the same, so that their
    /// results do not depend on whether they are saved.
    public func checkpoint(_ save: (State) throws -> Void) throws {
        loop.closeSession()
        checkpointIndex += 1
        try save(state)
        if let simulation = loop.board.simulation { simulation.restart(seed: restartSeed(checkpointIndex)) }
        try loop.openSession()
    }

    // MARK: Measurements

    /// Loss and metric (accuracy, or NRMSE) of θ on the training and the test rows.
    public func measure() throws -> (train: SplitMeasurement, test: SplitMeasurement) {
        measuring = true
        defer { measuring = false }
        return (try measure(test: false), try measure(test: true))
    }

    /// Seconds of one drive period on the board.
    var periodSeconds: Double { loop.periodSeconds }

    /// Device seconds spent training so far (all streamed evaluation periods but the
    /// measurements'), this process and the ones it resumed.
    public var deviceSeconds: Double? {
        Double(earlierEvaluationPeriods + loop.statistics.evaluationPeriods - measurementPeriods) * periodSeconds
    }

    /// The loop's figures in this process so far.
    public var loopFigures: LoopFigures? { LoopFigures(of: loop) }

    /// Device seconds one training pass streams: its rows (a batch, plus a sequence's washout),
    /// each held D periods, R shots. (The range probes add 36 periods per 30 s of stream.)
    public var deviceSecondsPerPass: Double {
        let rows = settings.batch + (task.isSequence ? settings.washout : 0)
        return Double(rows * loop.delayPeriods * loop.settings.shots) * periodSeconds
    }

    func measure(test: Bool) throws -> SplitMeasurement {
        let rows = task.evaluationRows(test: test)
        let loss = try evaluate(theta, rows: rows)
        // The readout's outputs for the scored rows are in the workspace now.
        let outputs = readoutWorkspace.outputs(count: rows.scored.count)
        if task.isRegression {
            return SplitMeasurement(loss: loss, metric: NRMSE.of(outputs, targets: rows.targets[rows.scored]))
        }
        let predicted = readoutNetwork.predictedClasses(workspace: readoutWorkspace, count: rows.scored.count)
        return SplitMeasurement(loss: loss, metric: Accuracy.of(predicted, labels: rows.labels[rows.scored]))
    }

    /// The loss of one parameter vector (all of θ) on `rows`; the node states stay in `states`.
    func evaluate(_ vector: [Double], rows: StreamRows) throws -> Double {
        var loss = 0.0
        try vector.withUnsafeBufferPointer { vectors in
            try withUnsafeMutablePointer(to: &loss) { value in
                try evaluate(
                    vectors: vectors, width: vector.count, rows: rows,
                    losses: UnsafeMutableBufferPointer(start: value, count: 1), readoutGradient: nil)
            }
        }
        return loss
    }

    /// Fits the readout by ridge regression to the node states of the training rows, streamed
    /// once through the ring with the current pre-layer (λ chosen on held-out training rows,
    /// `trainReadout`): per class against ±1 one-vs-rest targets, or to the regression target.
    /// `validation(scored)` is how many rows to hold out. Costs ⌈rows/batch⌉ passes.
    func fitReadoutByRidge(validation: (Int) -> Int) throws -> Int {
        let rows = task.evaluationRows(test: false)
        let nodes = loop.settings.nodes
        _ = try evaluate(theta, rows: rows)
        let streamed = Array(states[0..<(rows.count * nodes)])
        let outputs = task.outputCount
        for output in 0..<outputs {
            let targets = task.isRegression ? rows.targets : rows.labels.map { $0 == output ? 1.0 : -1.0 }
            let fit = trainReadout(
                states: streamed, width: nodes, targets: targets, trainRows: rows.scored,
                validationCount: validation(rows.scored.count))
            // Readout layout: W (outputs × N, row-major), then b.
            for node in 0..<nodes { theta[preCount + output * nodes + node] = fit.weights[node] }
            theta[preCount + outputs * nodes + output] = fit.weights[nodes]
        }
        perturbation?.attach(to: self)
        return (rows.count + settings.batch - 1) / settings.batch
    }
}
