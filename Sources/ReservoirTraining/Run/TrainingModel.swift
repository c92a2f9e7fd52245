import Foundation

/// What a model's evaluations report besides the loss.
public enum Metric: String, Sendable, Codable {
    /// The fraction of samples classified right (higher is better).
    case accuracy
    /// sqrt(mean((ŷ − y)²)/var(y)) on the scored rows (lower is better).
    case nrmse
}

/// The loss and metric of a model on one split.
public struct SplitMeasurement: Sendable, Equatable {
    public var loss: Double
    public var metric: Double

    public init(loss: Double, metric: Double) {
        self.loss = loss
        self.metric = metric
    }
}

/// One measurement of a model on both splits, kept in evaluations.jsonl.
public struct Evaluation: Sendable, Codable, Equatable {
    public var step: Int
    public var forwardPasses: Int
    public var trainLoss: Double
    public var trainMetric: Double
    public var testLoss: Double
    public var testMetric: Double
    /// Device seconds spent training up to this evaluation (models on a device).
    public var deviceSeconds: Double?
    /// The drive loop's figures so far (models on a device), for live displays.
    public var loop: LoopFigures?

    public init(
        step: Int, forwardPasses: Int, train: SplitMeasurement, test: SplitMeasurement, deviceSeconds: Double? = nil,
        loop: LoopFigures? = nil
    ) {
        self.step = step
        self.forwardPasses = forwardPasses
        trainLoss = train.loss
        trainMetric = train.metric
        testLoss = test.loss
        testMetric = test.metric
        self.deviceSeconds = deviceSeconds
        self.loop = loop
    }
}

/// A drive loop's running figures in this process (since it started or resumed), logged with
/// each evaluation so that a live display (the box's event stream) shows the loop's health.
public struct LoopFigures: Sendable, Codable, Equatable {
    public var periods: Int
    public var deadlineMisses: Int
    public var overRangePeriods: Int
    /// Converter utilization had the board been paced (`LoopStatistics.utilizationAsPaced`).
    public var converterUtilization: Double
    public var computeMicrosecondsMean: Double
    /// Zero in lock-step, where the board's time is the loop's work.
    public var wakeUpMicrosecondsP99: Double

    public init(
        periods: Int, deadlineMisses: Int, overRangePeriods: Int, converterUtilization: Double,
        computeMicrosecondsMean: Double, wakeUpMicrosecondsP99: Double
    ) {
        self.periods = periods
        self.deadlineMisses = deadlineMisses
        self.overRangePeriods = overRangePeriods
        self.converterUtilization = converterUtilization
        self.computeMicrosecondsMean = computeMicrosecondsMean
        self.wakeUpMicrosecondsP99 = wakeUpMicrosecondsP99
    }
}

/// What a run reports as it goes.
public enum TrainingProgress: Sendable {
    /// The run begins (or resumes) and will spend `budget` forward passes in all.
    case started(budget: Int)
    /// σ was calibrated from the loss noise measured on the device.
    case calibrated(sigma: Double, noise: Double, meanDifference: Double, pilot: Double)
    case step(step: Int, forwardPasses: Int, loss: Double)
    case evaluation(Evaluation)
}

/// Names a run: which model, on which task, trained how, from which seed.
public struct RunLabel: Sendable, Codable, Equatable {
    public var model: String
    public var task: String
    public var mode: String
    public var seed: UInt64
    /// Where the evaluations measure: "validation" when tuning (rows carved from the training
    /// split), nil for the test split.
    public var evaluatedOn: String?

    public init(model: String, task: String, mode: String, seed: UInt64, validation: Bool = false) {
        self.model = model
        self.task = task
        self.mode = mode
        self.seed = seed
        evaluatedOn = validation ? "validation" : nil
    }
}

/// What `summary.json` holds (and `--json` prints), for every model. Fields a model does not
/// have are absent.
public struct TrainingSummary: Sendable, Codable, Equatable {
    public var model: String
    public var task: String
    public var mode: String
    public var seed: UInt64
    /// "validation" when the test_ figures are measured on a validation split carved from the
    /// training split (tuning); absent for the test split.
    public var evaluated_on: String?
    public var forward_passes: Int
    public var steps: Int
    /// Classification tasks.
    public var test_accuracy: Double?
    public var train_accuracy: Double?
    /// Regression tasks: sqrt(mean((ŷ − y)²)/var(y)) on the test rows.
    public var test_nrmse: Double?
    public var train_nrmse: Double?
    public var test_loss: Double
    public var seconds: Double
    /// The ring model: virtual nodes N, σ in drive units, and the converters' utilization had
    /// the twin been paced (periods that streamed evaluations ÷ all periods streamed).
    public var nodes: Int?
    /// The ring model: where the perturbation lived (parameters or drive), absent when the
    /// pre-layer does not learn by perturbation.
    public var perturb: String?
    public var sigma: Double?
    public var converter_utilization: Double?
    /// The ring model: samples streamed through the board and the device time they took
    /// (samples ÷ sample rate), summed over the run.
    public var samples_streamed: Int?
    public var device_seconds: Double?
    /// Of `device_seconds`: the training passes (σ calibration and warm start included), and
    /// the measurements on both splits.
    public var device_seconds_training: Double?
    public var device_seconds_evaluation: Double?
    /// The transformer: its reservoir (none, digital, ring), its parameters and how many of
    /// them training changed.
    public var reservoir: String?
    public var parameters: Int?
    public var trainable_parameters: Int?

    public init(label: RunLabel, metric: Metric, forwardPasses: Int, steps: Int, final: Evaluation, seconds: Double) {
        model = label.model
        task = label.task
        mode = label.mode
        seed = label.seed
        evaluated_on = label.evaluatedOn
        forward_passes = forwardPasses
        self.steps = steps
        switch metric {
        case .accuracy:
            test_accuracy = final.testMetric
            train_accuracy = final.trainMetric
        case .nrmse:
            test_nrmse = final.testMetric
            train_nrmse = final.trainMetric
        }
        test_loss = final.testLoss
        self.seconds = seconds
    }

    /// The figure a run is judged by: test accuracy, or test NRMSE.
    public var testMetric: Double { test_accuracy ?? test_nrmse ?? .nan }
}

/// A model a `TrainingRun` trains: what a step computes and what a measurement is. The run
/// owns everything else (the budget, the evaluation and checkpoint cadence, the logs, resume
/// and the summary), the same for every model.
///
/// A model's parts (how its upstream parameters are perturbed, how its readout learns) are
/// values it is built from, so a new estimator is a new type, not a new case here.
public protocol TrainingModel: AnyObject {
    /// What a checkpoint keeps of the model: enough to continue exactly as without the stop.
    associatedtype State: Codable

    var label: RunLabel { get }
    var metric: Metric { get }
    /// Forward passes one step spends.
    var passesPerStep: Int { get }

    /// Called once before the first step of a run or of a resumed run (`fresh`: nothing was
    /// trained yet): opens what the model needs (a device session) and, when fresh, does what
    /// precedes training (σ calibration, a warm start). Returns the forward passes that took.
    func begin(fresh: Bool, progress: (TrainingProgress) -> Void) throws -> Int
    /// Called once when the run ends, however it ends.
    func end()
    /// Step `index` of the run, after `forwardPasses` passes: returns the step's loss and the
    /// norm of the update's gradient (estimate).
    func step(_ index: Int, forwardPasses: Int) throws -> (loss: Double, gradientNorm: Double)
    /// The current model on the training and test splits.
    func measure() throws -> (train: SplitMeasurement, test: SplitMeasurement)
    var state: State { get }
    func restore(_ state: State) throws
    /// Saves a checkpoint with `save`; a model on a device closes its session around it.
    func checkpoint(_ save: (State) throws -> Void) throws
    /// Adds the model's own figures to the run's summary.
    func complete(_ summary: inout TrainingSummary)
    /// Device seconds spent training so far (nil: the model runs on no device).
    var deviceSeconds: Double? { get }
    /// The drive loop's figures so far (nil: the model runs on no device).
    var loopFigures: LoopFigures? { get }
}

extension TrainingModel {
    public func begin(fresh: Bool, progress: (TrainingProgress) -> Void) throws -> Int { 0 }
    public func end() {}
    public func checkpoint(_ save: (State) throws -> Void) throws { try save(state) }
    public func complete(_ summary: inout TrainingSummary) {}
    public var deviceSeconds: Double? { nil }
    public var loopFigures: LoopFigures? { nil }
}
