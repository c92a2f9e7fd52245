import CRealtime
import Foundation
import NeuralNet
import PerturbativeTraining
import ReservoirControl
import ReservoirHAL
import SeededRandom

/// How the ring model is trained (`ringlab train --model ring`; saved as the run's config.json).
public struct RingTrainingSettings: Sendable, Codable, Equatable {
    public enum Mode: String, Sendable, Codable, CaseIterable {
        /// Pre-layer and readout both by PGT.
        case pgt
        /// Pre-layer by PGT, readout by its exact gradient from the same forward passes.
        case pgtHybrid = "pgt-hybrid"
        /// The fixed random mask, ridge readouts (classic reservoir computing).
        case readout
    }

    public var task = "digits"
    public var mode = Mode.pgtHybrid
    /// Forward passes to spend (each streams one mini-batch through the ring).
    public var budget = 2_000
    /// Samples per mini-batch, or scored rows of a sequence window.
    public var batch = 32
    /// Unscored rows streamed before a sequence window (the feedback's memory fills up).
    public var washout = 16
    public var preLearningRate = 0.003
    /// Rate of the readout's Adam (pgt-hybrid).
    public var readoutLearningRate = 0.01
    /// Decoupled weight decay λ of the readout's Adam (AdamW). Without it the readout fits
    /// the training split perfectly and the test accuracy falls back (docs/pgt.md: digits,
    /// 50,000 passes, N = 100: 0.954 without, 0.972 at λ = 0.1, 0.965 at 0.5).
    public var readoutWeightDecay = 0.1
    /// σ of the perturbations, in drive units per parameter; nil: calibrated on the board at
    /// the start of the run from the loss noise it measures there.
    public var sigma: Double?
    /// σ calibration's target: the typical |L(θ+σz) − L(θ−σz)| as a multiple of the loss noise.
    public var sigmaMultiple = 3.0
    /// Start a regression readout from the ridge fit of the fixed mask's states (the classic
    /// reservoir's solution).
    public var warmStartReadout = true
    /// Width of a hidden Dense + tanh layer before the one that drives the nodes (nil: none).
    public var preHidden: Int?
    /// Give every sample of a batch its own direction (independent samples, one pre-layer only;
    /// docs/pgt.md).
    public var perSampleDirections = true
    /// γ, the drive scale of the initial mask.
    public var inputScale = 0.8
    public var seed: UInt64 = 1
    /// Virtual nodes N.
    public var nodes = 50
    /// Feedback η of the loop (0 for independent samples).
    public var feedback = 0.0
    /// Repeats R of every evaluation, averaged.
    public var shots = 1
    /// The board file the run used.
    public var board = "hardware/boards/twin.yaml"
    /// Evaluations on the test split over the run (each also a checkpoint).
    public var evaluations = 10

    public init() {}
}

/// One measurement of the ring model on both splits (metric: accuracy, or NRMSE).
public struct RingEvaluation: Sendable, Codable, Equatable {
    public var step: Int
    public var forwardPasses: Int
    public var trainLoss: Double
    public var trainMetric: Double
    public var testLoss: Double
    public var testMetric: Double
}

/// What `summary.json` of a ring run holds (and `--json` prints).
public struct RingTrainingSummary: Sendable, Codable, Equatable {
    public var task: String
    public var mode: String
    public var seed: UInt64
    public var nodes: Int
    public var forward_passes: Int
    public var steps: Int
    /// Classification tasks.
    public var test_accuracy: Double?
    public var train_accuracy: Double?
    /// Regression tasks: sqrt(mean((ŷ − y)²)/var(y)) on the test rows.
    public var test_nrmse: Double?
    public var train_nrmse: Double?
    public var sigma: Double?
    /// Periods that streamed evaluations ÷ all periods streamed, host gaps beyond the queued
    /// bias counted as idle: the converters' utilization had the twin been paced.
    public var converter_utilization: Double
    public var seconds: Double

    public init(
        task: String, mode: String, seed: UInt64, nodes: Int, forward_passes: Int, steps: Int,
        test_accuracy: Double? = nil, train_accuracy: Double? = nil, test_nrmse: Double? = nil,
        train_nrmse: Double? = nil, sigma: Double? = nil, converter_utilization: Double, seconds: Double
    ) {
        self.task = task
        self.mode = mode
        self.seed = seed
        self.nodes = nodes
        self.forward_passes = forward_passes
        self.steps = steps
        self.test_accuracy = test_accuracy
        self.train_accuracy = train_accuracy
        self.test_nrmse = test_nrmse
        self.train_nrmse = train_nrmse
        self.sigma = sigma
        self.converter_utilization = converter_utilization
        self.seconds = seconds
    }
}

/// The state a ring checkpoint keeps: enough to continue exactly as the uninterrupted run.
struct RingCheckpoint: Codable {
    var parameters: [Double]
    var optimizer: Optimizer
    var step: Int
    var forwardPasses: Int
    var readoutParameters: [Double]
    var readoutOptimizer: Optimizer
    var sigma: Double
    var checkpointIndex: Int
}

/// The ring as a layer of a network trained by PGT (docs/pgt.md, "On the ring"):
///
///   drive a = W_pre·x + b_pre  →  node states s = ring(a) through the drive loop  →
///   outputs z = W_out·s + b_out  →  softmax cross-entropy (or ½(z − y)² for regression).
///
/// Nothing can back-propagate through the ring, so the pre-layer is trained by
/// `PerturbativeTrainer` (Rademacher, K = 1, two-sided, +,−,−,+ from step to step). In
/// `pgt-hybrid` the readout is digital and each of the step's forward passes gives its exact
/// gradient at the states the ring produced; the readout's Adam takes their mean. In `pgt`
/// the readout is perturbed with the pre-layer. The pre-layer starts as the fixed mask of the
/// classic reservoir (γ·m/√F, m = ±1), so training starts there and improves on it.
///
/// A step's evaluations go to the drive loop together: their drives are computed first, then
/// streamed back to back in one open session, so the converters do not idle between them.
public final class RingTraining {
    public let loop: DriveLoop
    public let task: RingTask
    public let settings: RingTrainingSettings
    public let runDirectory: RunDirectory?
    public private(set) var forwardPasses = 0
    public private(set) var step = 0
    /// σ in use (set by calibration when the settings leave it open).
    public private(set) var sigma: Double
    public private(set) var readoutParameters: [Double]
    public private(set) var evaluationsDone: [RingEvaluation] = []
    /// Wall time spent in forward passes (pre-layer, ring, readout loss) and in whole steps.
    public private(set) var forwardNanoseconds: Int64 = 0
    public private(set) var stepNanoseconds: Int64 = 0

    private let preNetwork: DenseNetwork
    private let readoutNetwork: DenseNetwork
    private var trainer: PerturbativeTrainer!
    private var readoutOptimizer: Optimizer
    private let preWorkspace: NetworkWorkspace
    private let readoutWorkspace: NetworkWorkspace
    private let preCount: Int
    private var checkpointIndex = 0
    private var drive: [Double] = []
    private var states: [Double] = []

    /// Passes of σ calibration: evaluations at θ₀, then pilot pairs.
    static let sigmaRepeats = 6
    static let sigmaPilotDirections = 6
    static let sigmaPilot = 0.02

    public init(loop: DriveLoop, task: RingTask, settings: RingTrainingSettings, runDirectory: RunDirectory? = nil) {
        precondition(settings.mode != .readout, "the readout mode is RingReadoutTraining")
        self.loop = loop
        self.task = task
        self.settings = settings
        self.runDirectory = runDirectory
        let nodes = loop.settings.nodes
        let features = task.featureCount
        let widths = settings.preHidden.map { [features, $0, nodes] } ?? [features, nodes]
        preNetwork = DenseNetwork(
            widths: widths, activations: settings.preHidden == nil ? [.identity] : [.tanh, .identity],
            loss: .squaredError)
        readoutNetwork = DenseNetwork(
            widths: [nodes, task.outputCount], activations: [.identity],
            loss: task.isRegression ? .squaredError : .softmaxCrossEntropy)
        preCount = preNetwork.parameterCount
        // The layer that drives the nodes starts as the mask ±γ/√fan-in; a hidden layer before
        // it (Glorot, zero biases) feeds it tanh units in place of the features.
        var pre = preNetwork.initialParameters(seed: settings.seed)
        let last = widths.count - 2
        let fanIn = widths[last]
        let mask = RingReadoutTraining(loop: loop, inputScale: settings.inputScale, seed: settings.seed)
            .mask(features: fanIn)
        let scale = settings.inputScale / Double(fanIn).squareRoot()
        for index in 0..<(nodes * fanIn) { pre[preNetwork.weightOffsets[last] + index] = scale * mask[index] }
        readoutParameters = readoutNetwork.initialParameters(seed: settings.seed)
        readoutOptimizer = Optimizer(kind: .adam, dimension: readoutNetwork.parameterCount)
        sigma = settings.sigma ?? Self.sigmaPilot
        let largest = max(settings.batch + settings.washout, Self.largestEvaluation(task))
        preWorkspace = NetworkWorkspace(network: preNetwork, capacity: largest)
        readoutWorkspace = NetworkWorkspace(network: readoutNetwork, capacity: largest)
        trainer = makeTrainer(parameters: settings.mode == .pgt ? pre + readoutParameters : pre, sigma: sigma)
    }

    private static func largestEvaluation(_ task: RingTask) -> Int {
        switch task {
        case .samples(let split): return max(split.train.count, split.test.count)
        case .sequence(_, let data): return data.inputs.count
        }
    }

    private func makeTrainer(parameters: [Double], sigma: Double) -> PerturbativeTrainer {
        var configuration = PerturbativeConfiguration()
        configuration.directionKind = .rademacher
        configuration.directionCount = 1
        configuration.sigma = sigma
        configuration.learningRate = settings.preLearningRate
        configuration.optimizer = .adam
        configuration.schedule = .cosine
        configuration.seed = settings.seed
        configuration.perSampleDirections = usesPerSampleDirections
        return PerturbativeTrainer(
            configuration: configuration, parameters: parameters,
            totalSteps: settings.budget / configuration.forwardPassesPerStep)
    }

    /// Whether steps use per-sample directions: asked for, the task's samples independent, and
    /// the pre-layer one Dense layer (whose per-sample perturbation the drive formula covers).
    public var usesPerSampleDirections: Bool {
        settings.perSampleDirections && !task.isSequence && settings.preHidden == nil
    }

    /// The pre-layer's parameters (W_pre row-major N × F, then b_pre).
    public var preParameters: [Double] { Array(trainer.parameters[0..<preCount]) }

    /// The readout in use: its own (pgt-hybrid) or the tail of θ (pgt).
    private var currentReadout: [Double] {
        settings.mode == .pgt ? Array(trainer.parameters[preCount...]) : readoutParameters
    }

    // MARK: Evaluations through the ring

    /// Streams `rows` once per parameter vector in `vectors` (rows of θ, pre-layer first) in one
    /// call of the drive loop, and writes each evaluation's mean loss over the scored rows into
    /// `losses`; with `readoutGradient`, adds each evaluation's exact readout gradient to it.
    private func evaluate(
        vectors: UnsafeBufferPointer<Double>, width: Int, rows: StreamRows,
        losses: UnsafeMutableBufferPointer<Double>, readoutGradient: UnsafeMutableBufferPointer<Double>?
    ) throws {
        let started = rt_monotonic_nanoseconds()
        var gradientNanoseconds: Int64 = 0
        defer { forwardNanoseconds += rt_monotonic_nanoseconds() - started - gradientNanoseconds }
        let evaluations = losses.count
        let nodes = loop.settings.nodes
        let count = rows.count
        let size = evaluations * count * nodes
        reserveStreamBuffers(size)
        try rows.inputs.withUnsafeBufferPointer { x in
            try drive.withUnsafeMutableBufferPointer { allDrive in
                for e in 0..<evaluations {
                    let pre = UnsafeBufferPointer(rebasing: vectors[(e * width)..<(e * width + preCount)])
                    preNetwork.forward(parameters: pre, inputs: x, count: count, workspace: preWorkspace)
                    let output = preWorkspace.outputs(count: count)
                    (allDrive.baseAddress! + e * count * nodes).update(from: output.baseAddress!, count: count * nodes)
                }
                try states.withUnsafeMutableBufferPointer { allStates in
                    try loop.evaluate(
                        drive: UnsafeBufferPointer(rebasing: allDrive[0..<size]), inputCount: count,
                        evaluationCount: evaluations, states: UnsafeMutableBufferPointer(rebasing: allStates[0..<size]))
                }
            }
        }
        let scored = rows.scored
        var gradient = [Double](repeating: 0, count: readoutGradient == nil ? 0 : readoutNetwork.parameterCount)
        // pgt-hybrid: one readout for every evaluation; pgt: each row of θ has its own.
        let sharedReadout = settings.mode == .pgt ? [] : readoutParameters
        states.withUnsafeBufferPointer { s in
            rows.labels.withUnsafeBufferPointer { labels in
                rows.targets.withUnsafeBufferPointer { targets in
                    sharedReadout.withUnsafeBufferPointer { shared in
                        let first = s.baseAddress!
                        for e in 0..<evaluations {
                            let scoredStates = UnsafeBufferPointer(
                                start: first + (e * count + scored.lowerBound) * nodes, count: scored.count * nodes)
                            let batch = Batch(
                                inputs: scoredStates,
                                labels: task.isRegression ? nil : UnsafeBufferPointer(rebasing: labels[scored]),
                                targets: task.isRegression ? UnsafeBufferPointer(rebasing: targets[scored]) : nil,
                                count: scored.count)
                            let readout =
                                settings.mode == .pgt
                                ? UnsafeBufferPointer(rebasing: vectors[(e * width + preCount)..<((e + 1) * width)])
                                : shared
                            losses[e] = readoutLoss(
                                readout, batch, scratch: &gradient, accumulating: readoutGradient,
                                gradientNanoseconds: &gradientNanoseconds)
                        }
                    }
                }
            }
        }
    }

    /// Per-sample directions (docs/pgt.md): sample s of the batch is driven with its own
    /// perturbation θ ± σ·z_s, so one pair of passes gives B directional derivatives. The
    /// samples are independent (no feedback), so each sample's loss depends on its own
    /// parameters only. Drive of node i for sample s:
    ///   a_si = (W x_s + b)_i ± σ·((Z_s^W x_s)_i + z_s^b_i),
    /// and in `pgt` the readout is perturbed per sample as well. `values` gets the 2B losses,
    /// the first pass's (sign + when `plusFirst`) then the second's.
    private func evaluatePerSample(
        directions: UnsafeBufferPointer<Double>, plusFirst: Bool, rows: StreamRows,
        values: UnsafeMutableBufferPointer<Double>, readoutGradient: UnsafeMutableBufferPointer<Double>?
    ) throws {
        let started = rt_monotonic_nanoseconds()
        var gradientNanoseconds: Int64 = 0
        defer { forwardNanoseconds += rt_monotonic_nanoseconds() - started - gradientNanoseconds }
        let nodes = loop.settings.nodes
        let features = task.featureCount
        let count = rows.count
        let width = trainer.parameters.count
        let size = 2 * count * nodes
        reserveStreamBuffers(size)
        let sigma = trainer.configuration.sigma
        let theta = trainer.parameters
        try theta.withUnsafeBufferPointer { p in
            try rows.inputs.withUnsafeBufferPointer { x in
                try drive.withUnsafeMutableBufferPointer { allDrive in
                    preNetwork.forward(
                        parameters: UnsafeBufferPointer(rebasing: p[0..<preCount]), inputs: x, count: count,
                        workspace: preWorkspace)
                    let base = preWorkspace.outputs(count: count)
                    let out = allDrive.baseAddress!
                    for sample in 0..<count {
                        let z = directions.baseAddress! + sample * width
                        let input = x.baseAddress! + sample * features
                        for node in 0..<nodes {
                            var delta = z[nodes * features + node]
                            let row = z + node * features
                            for j in 0..<features { delta += row[j] * input[j] }
                            let centre = base[sample * nodes + node]
                            let signed = (plusFirst ? sigma : -sigma) * delta
                            out[sample * nodes + node] = centre + signed
                            out[(count + sample) * nodes + node] = centre - signed
                        }
                    }
                    try states.withUnsafeMutableBufferPointer { allStates in
                        try loop.evaluate(
                            drive: UnsafeBufferPointer(rebasing: allDrive[0..<size]), inputCount: count,
                            evaluationCount: 2, states: UnsafeMutableBufferPointer(rebasing: allStates[0..<size]))
                    }
                }
            }
            let outputs = task.outputCount
            var gradient = [Double](repeating: 0, count: readoutGradient == nil ? 0 : readoutNetwork.parameterCount)
            var logits = [Double](repeating: 0, count: outputs)
            try states.withUnsafeBufferPointer { s in
                try rows.labels.withUnsafeBufferPointer { labels in
                    try rows.targets.withUnsafeBufferPointer { targets in
                        for pass in 0..<2 {
                            let passStates = UnsafeBufferPointer(
                                start: s.baseAddress! + pass * count * nodes, count: count * nodes)
                            if settings.mode == .pgt {
                                // Each sample's own readout R ± σ z_s^R.
                                let sign = (pass == 0) == plusFirst ? sigma : -sigma
                                for sample in 0..<count {
                                    let z = directions.baseAddress! + sample * width + preCount
                                    let r = p.baseAddress! + preCount
                                    let state = passStates.baseAddress! + sample * nodes
                                    for c in 0..<outputs {
                                        var sum = r[outputs * nodes + c] + sign * z[outputs * nodes + c]
                                        for i in 0..<nodes {
                                            sum += (r[c * nodes + i] + sign * z[c * nodes + i]) * state[i]
                                        }
                                        logits[c] = sum
                                    }
                                    values[pass * count + sample] = sampleLoss(
                                        logits, label: labels[sample], target: targets[sample])
                                }
                                continue
                            }
                            let batch = Batch(
                                inputs: passStates, labels: task.isRegression ? nil : labels,
                                targets: task.isRegression ? targets : nil, count: count)
                            try readoutParameters.withUnsafeBufferPointer { readout in
                                _ = readoutLoss(
                                    readout, batch, scratch: &gradient, accumulating: readoutGradient,
                                    gradientNanoseconds: &gradientNanoseconds)
                                guard rows.scored == 0..<count else {
                                    throw RingTaskError(description: "per-sample directions need every row scored")
                                }
                                let z = readoutWorkspace.outputs(count: count)
                                for sample in 0..<count {
                                    for c in 0..<outputs { logits[c] = z[sample * outputs + c] }
                                    values[pass * count + sample] = sampleLoss(
                                        logits, label: labels[sample], target: targets[sample])
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The readout's mean loss on `batch` (its outputs stay in the workspace); with
    /// `accumulating`, its exact gradient is added there too (timed as bookkeeping, not as a
    /// forward pass).
    private func readoutLoss(
        _ readout: UnsafeBufferPointer<Double>, _ batch: Batch, scratch gradient: inout [Double],
        accumulating readoutGradient: UnsafeMutableBufferPointer<Double>?, gradientNanoseconds: inout Int64
    ) -> Double {
        guard let readoutGradient else {
            return readoutNetwork.loss(parameters: readout, batch: batch, workspace: readoutWorkspace)
        }
        let started = rt_monotonic_nanoseconds()
        let loss = gradient.withUnsafeMutableBufferPointer { g in
            readoutNetwork.lossAndGradient(parameters: readout, batch: batch, workspace: readoutWorkspace, gradient: g)
        }
        for index in gradient.indices { readoutGradient[index] += gradient[index] }
        gradientNanoseconds += rt_monotonic_nanoseconds() - started
        return loss
    }

    /// Grows the drive and state buffers to `size` values (the largest evaluation so far).
    private func reserveStreamBuffers(_ size: Int) {
        guard drive.count < size else { return }
        drive = [Double](repeating: 0, count: size)
        states = [Double](repeating: 0, count: size)
    }

    /// One sample's loss from its outputs: softmax cross-entropy log Σ e^{z_c} − z_y, or
    /// ½(z − y)² for regression (the readout network's losses, per sample).
    private func sampleLoss(_ outputs: [Double], label: Int, target: Double) -> Double {
        if task.isRegression { return 0.5 * (outputs[0] - target) * (outputs[0] - target) }
        let largest = outputs.max()!
        var sum = 0.0
        for z in outputs { sum += Foundation.exp(z - largest) }
        return largest + Foundation.log(sum) - outputs[label]
    }

    /// Loss and metric (accuracy, or NRMSE) of the current model on the training or test rows.
    public func measure(test: Bool) throws -> (loss: Double, metric: Double) {
        let rows = task.evaluationRows(test: test)
        let theta = settings.mode == .pgt ? trainer.parameters : preParameters + readoutParameters
        var loss = 0.0
        try theta.withUnsafeBufferPointer { vectors in
            try withUnsafeMutablePointer(to: &loss) { value in
                try evaluate(
                    vectors: vectors, width: theta.count, rows: rows,
                    losses: UnsafeMutableBufferPointer(start: value, count: 1), readoutGradient: nil)
            }
        }
        // The readout's outputs for the scored rows are in the workspace now.
        let outputs = readoutWorkspace.outputs(count: rows.scored.count)
        if task.isRegression {
            let actual = Array(rows.targets[rows.scored])
            let mean = actual.reduce(0, +) / Double(actual.count)
            let variance = actual.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(actual.count)
            var error = 0.0
            for (index, y) in actual.enumerated() { error += (outputs[index] - y) * (outputs[index] - y) }
            return (loss, (error / Double(actual.count) / variance).squareRoot())
        }
        let predicted = readoutNetwork.predictedClasses(workspace: readoutWorkspace, count: rows.scored.count)
        let correct = zip(predicted, rows.labels[rows.scored]).filter { $0 == $1 }.count
        return (loss, Double(correct) / Double(rows.scored.count))
    }

    // MARK: Training

    /// Sets σ from the loss noise measured on the board (docs/pgt.md): the loss at θ₀ on one
    /// batch `sigmaRepeats` times, and `sigmaPilotDirections` pilot pairs at σ₀, all streamed
    /// in one session; σ = multiple·s_L·σ₀/D₀. The passes count against the budget.
    func calibrateSigma() throws -> (sigma: Double, noise: Double, meanDifference: Double) {
        let rows = task.trainingBatch(step: -1, batch: settings.batch, washout: settings.washout, seed: settings.seed)
        let theta = trainer.parameters
        let width = theta.count
        var failure: Error?
        let measured = theta.withUnsafeBufferPointer { p in
            PerturbativeTraining.calibrateSigma(
                losses: { vectors, values in
                    do {
                        try evaluate(vectors: vectors, width: width, rows: rows, losses: values, readoutGradient: nil)
                    } catch {
                        failure = error
                        for index in values.indices { values[index] = .nan }
                    }
                }, parameters: p, repeats: Self.sigmaRepeats, pilotSigma: Self.sigmaPilot,
                pilotDirections: Self.sigmaPilotDirections, multiple: settings.sigmaMultiple,
                seed: settings.seed &+ 0x5151)
        }
        if let failure { throw failure }
        forwardPasses += Self.sigmaRepeats + 2 * Self.sigmaPilotDirections
        return measured
    }

    /// Starts a regression readout where classic reservoir computing ends: the training rows
    /// are streamed once through the ring with the initial (mask) pre-layer and the readout is
    /// the ridge fit to them (λ chosen on held-out rows, `trainReadout`), the minimum of the
    /// same squared error up to the ridge term. PGT then improves on the classic reservoir
    /// from its own solution. Costs ⌈rows/batch⌉ passes of the budget.
    ///
    /// Classifiers start from a random readout: a ridge fit to one-hot targets has no scale
    /// for softmax logits, and on separable data (sine/square) the best scale is unbounded,
    /// which leaves the loss nothing to measure σ with.
    func warmStartReadout() throws {
        precondition(task.isRegression)
        let rows = task.evaluationRows(test: false)
        let nodes = loop.settings.nodes
        let theta = settings.mode == .pgt ? trainer.parameters : preParameters + readoutParameters
        var loss = 0.0
        try theta.withUnsafeBufferPointer { vectors in
            try withUnsafeMutablePointer(to: &loss) { value in
                try evaluate(
                    vectors: vectors, width: theta.count, rows: rows,
                    losses: UnsafeMutableBufferPointer(start: value, count: 1), readoutGradient: nil)
            }
        }
        let fit = trainReadout(
            states: Array(states[0..<(rows.count * nodes)]), width: nodes, targets: rows.targets,
            trainRows: rows.scored, validationCount: min(500, rows.scored.count / 4))
        readoutParameters = fit.weights
        if settings.mode == .pgt { trainer = makeTrainer(parameters: preParameters + readoutParameters, sigma: sigma) }
        forwardPasses += (rows.count + settings.batch - 1) / settings.batch
    }

    /// Continues from the run directory's checkpoint (a run without one starts afresh).
    public func resume() throws {
        guard let runDirectory else { return }
        guard runDirectory.hasCheckpoint else {
            try runDirectory.truncateLogs(toStep: 0, forwardPasses: 0, evaluation: RingEvaluation.self)
            return
        }
        let checkpoint: RingCheckpoint = try runDirectory.loadCheckpoint()
        sigma = checkpoint.sigma
        trainer = makeTrainer(parameters: checkpoint.parameters, sigma: sigma)
        trainer.restore(parameters: checkpoint.parameters, optimizer: checkpoint.optimizer, step: checkpoint.step)
        step = checkpoint.step
        forwardPasses = checkpoint.forwardPasses
        readoutParameters = checkpoint.readoutParameters
        readoutOptimizer = checkpoint.readoutOptimizer
        checkpointIndex = checkpoint.checkpointIndex
        try runDirectory.truncateLogs(toStep: step, forwardPasses: forwardPasses, evaluation: RingEvaluation.self)
        evaluationsDone = try runDirectory.loadEvaluations()
    }

    /// The seed a simulated board restarts from at checkpoint `index`.
    private func restartSeed(_ index: Int) -> UInt64 {
        var random = Xoshiro256StarStar(seed: settings.seed, stream: 4_100 + UInt64(index))
        return random.next()
    }

    /// Trains until the budget is spent; `progress` hears of every step and evaluation.
    public func run(progress: (RingProgress) -> Void = { _ in }) throws -> RingTrainingSummary {
        let started = Date()
        if let simulation = loop.board.simulation { simulation.restart(seed: restartSeed(checkpointIndex)) }
        try loop.openSession()
        defer { loop.closeSession() }
        if step == 0, settings.warmStartReadout, task.isRegression { try warmStartReadout() }
        if step == 0, settings.sigma == nil {
            let calibrated = try calibrateSigma()
            // A loss the pilot could not move (a readout that already fits) or no measurable
            // noise leaves the ratio undefined or extreme: σ stays within a decade of σ₀.
            sigma =
                calibrated.sigma.isFinite
                ? min(max(calibrated.sigma, Self.sigmaPilot / 10), Self.sigmaPilot * 10) : Self.sigmaPilot
            let parameters = trainer.parameters
            trainer = makeTrainer(parameters: parameters, sigma: sigma)
            progress(.sigma(sigma, noise: calibrated.noise, meanDifference: calibrated.meanDifference))
        }
        let passesPerStep = trainer.configuration.forwardPassesPerStep
        let interval = max(settings.budget / max(settings.evaluations, 1), passesPerStep)
        var nextEvaluation = (forwardPasses / interval + 1) * interval
        var lines: [String] = []
        let readoutCount = readoutNetwork.parameterCount
        var readoutGradient = [Double](repeating: 0, count: readoutCount)
        let hybrid = settings.mode == .pgtHybrid
        while forwardPasses + passesPerStep <= settings.budget {
            let stepStarted = rt_monotonic_nanoseconds()
            let rows = task.trainingBatch(
                step: step, batch: settings.batch, washout: settings.washout, seed: settings.seed)
            for index in readoutGradient.indices { readoutGradient[index] = 0 }
            var failure: Error?
            let width = trainer.parameters.count
            let record = readoutGradient.withUnsafeMutableBufferPointer { g in
                if usesPerSampleDirections {
                    return trainer.step(sampleCount: rows.count) { directions, plusFirst, values in
                        do {
                            try evaluatePerSample(
                                directions: directions, plusFirst: plusFirst, rows: rows, values: values,
                                readoutGradient: hybrid ? g : nil)
                        } catch {
                            failure = error
                            for index in values.indices { values[index] = .nan }
                        }
                    }
                }
                return trainer.step { vectors, values in
                    do {
                        try evaluate(
                            vectors: vectors, width: width, rows: rows, losses: values,
                            readoutGradient: hybrid ? g : nil)
                    } catch {
                        failure = error
                        for index in values.indices { values[index] = .nan }
                    }
                }
            }
            if let failure { throw failure }
            if hybrid {
                let scale = 1 / Double(passesPerStep)
                for index in readoutGradient.indices { readoutGradient[index] *= scale }
                let rate = Schedule.cosine.rate(
                    base: settings.readoutLearningRate, step: step, totalSteps: settings.budget / passesPerStep)
                readoutGradient.withUnsafeBufferPointer { g in
                    readoutParameters.withUnsafeMutableBufferPointer { p in
                        readoutOptimizer.apply(
                            gradient: g, learningRate: rate, weightDecay: settings.readoutWeightDecay, to: p)
                    }
                }
            }
            forwardPasses += passesPerStep
            step += 1
            stepNanoseconds += rt_monotonic_nanoseconds() - stepStarted
            lines.append(
                "{\"step\":\(step),\"forward_passes\":\(forwardPasses),\"loss\":\(record.loss),\"gradient_norm\":\(record.gradientNorm)}"
            )
            progress(.step(step: step, forwardPasses: forwardPasses, loss: record.loss))
            if forwardPasses >= nextEvaluation {
                nextEvaluation += interval
                progress(.evaluation(try recordEvaluation()))
                try runDirectory?.appendSteps(lines)
                lines.removeAll(keepingCapacity: true)
                try checkpoint()
            }
        }
        try runDirectory?.appendSteps(lines)
        if evaluationsDone.last?.forwardPasses != forwardPasses {
            progress(.evaluation(try recordEvaluation()))
            try checkpoint()
        }
        let final = evaluationsDone.last!
        let statistics = loop.statistics
        let summary = RingTrainingSummary(
            task: settings.task, mode: settings.mode.rawValue, seed: settings.seed, nodes: loop.settings.nodes,
            forward_passes: forwardPasses, steps: step,
            test_accuracy: task.isRegression ? nil : final.testMetric,
            train_accuracy: task.isRegression ? nil : final.trainMetric,
            test_nrmse: task.isRegression ? final.testMetric : nil,
            train_nrmse: task.isRegression ? final.trainMetric : nil, sigma: sigma,
            converter_utilization: statistics.utilizationAsPaced(
                periodNanoseconds: loop.board.sampleRate.duration(of: SampleCount(loop.samplesPerPeriod)).nanoseconds),
            seconds: Date().timeIntervalSince(started))
        try runDirectory?.finishRing(summary: summary, evaluations: evaluationsDone, regression: task.isRegression)
        return summary
    }

    private func recordEvaluation() throws -> RingEvaluation {
        let train = try measure(test: false)
        let test = try measure(test: true)
        let evaluation = RingEvaluation(
            step: step, forwardPasses: forwardPasses, trainLoss: train.loss, trainMetric: train.metric,
            testLoss: test.loss, testMetric: test.metric)
        evaluationsDone.append(evaluation)
        try runDirectory?.appendEvaluation(evaluation)
        return evaluation
    }

    /// Saves a checkpoint. The session closes around it and a simulated board restarts from a
    /// seed of the checkpoint's, which a resumed run does too: both then see the same device.
    /// Runs without a folder cycle the session and the simulation all the same, so that their
    /// results do not depend on whether they are saved.
    private func checkpoint() throws {
        loop.closeSession()
        checkpointIndex += 1
        try runDirectory?.saveCheckpoint(
            RingCheckpoint(
                parameters: trainer.parameters, optimizer: trainer.optimizer, step: step, forwardPasses: forwardPasses,
                readoutParameters: readoutParameters, readoutOptimizer: readoutOptimizer, sigma: sigma,
                checkpointIndex: checkpointIndex))
        if let simulation = loop.board.simulation { simulation.restart(seed: restartSeed(checkpointIndex)) }
        try loop.openSession()
    }
}

/// What a ring training run reports as it goes.
public enum RingProgress: Sendable {
    case sigma(Double, noise: Double, meanDifference: Double)
    case step(step: Int, forwardPasses: Int, loss: Double)
    case evaluation(RingEvaluation)
}
