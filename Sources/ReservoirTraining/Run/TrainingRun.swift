import Foundation

/// How a run spends its budget: forward passes, and how many evaluations on the test split and
/// checkpoints it makes along the way (evenly spaced; one more of each at the end if the last
/// step does not fall on one).
public struct TrainingPlan: Sendable, Codable, Equatable {
    public var budget: Int
    public var evaluations: Int
    public var checkpoints: Int

    public init(budget: Int, evaluations: Int, checkpoints: Int) {
        self.budget = budget
        self.evaluations = evaluations
        self.checkpoints = checkpoints
    }
}

/// The one training loop, for every model: spends the plan's budget in the model's steps,
/// evaluates and checkpoints on the plan's cadence, logs each step (steps.jsonl) and each
/// evaluation (evaluations.jsonl), continues a stopped run from its checkpoint exactly as it
/// would have gone on, and writes the summary and plots.
public final class TrainingRun<Model: TrainingModel> {
    public let model: Model
    public let plan: TrainingPlan
    public let directory: RunDirectory?
    public private(set) var forwardPasses = 0
    public private(set) var step = 0
    public private(set) var evaluations: [Evaluation] = []
    /// Forward passes at the last checkpoint written (or resumed from).
    private var checkpointedAt = -1

    /// What checkpoint.json holds.
    struct Checkpoint: Codable {
        var step: Int
        var forwardPasses: Int
        var model: Model.State
    }

    public init(model: Model, plan: TrainingPlan, directory: RunDirectory? = nil) {
        self.model = model
        self.plan = plan
        self.directory = directory
    }

    /// Continues from the directory's checkpoint. A run stopped before its first checkpoint
    /// starts again from the beginning (its logs are cleared), which is where an uninterrupted
    /// run would have been; log lines written after the checkpoint are dropped.
    public func resume() throws {
        guard let directory else { return }
        guard directory.hasCheckpoint else {
            try directory.truncateLogs(toStep: 0, forwardPasses: 0)
            return
        }
        let checkpoint: Checkpoint = try directory.loadCheckpoint()
        try model.restore(checkpoint.model)
        step = checkpoint.step
        forwardPasses = checkpoint.forwardPasses
        checkpointedAt = forwardPasses
        try directory.truncateLogs(toStep: step, forwardPasses: forwardPasses)
        evaluations = try directory.loadEvaluations()
    }

    /// Trains until the budget is spent; `progress` hears of every step and evaluation.
    public func run(progress: (TrainingProgress) -> Void = { _ in }) throws -> TrainingSummary {
        progress(.started(budget: plan.budget))
        let started = Date()
        // Fresh: nothing restored (a model that trains in `begin`, as a ridge fit does, has
        // step 0 at its checkpoint too).
        forwardPasses += try model.begin(fresh: checkpointedAt < 0, progress: progress)
        defer { model.end() }
        let passesPerStep = model.passesPerStep
        let evaluationInterval = max(plan.budget / max(plan.evaluations, 1), passesPerStep)
        let checkpointInterval = max(plan.budget / max(plan.checkpoints, 1), passesPerStep)
        var nextEvaluation = (forwardPasses / evaluationInterval + 1) * evaluationInterval
        var nextCheckpoint = (forwardPasses / checkpointInterval + 1) * checkpointInterval
        var lines: [String] = []
        while forwardPasses + passesPerStep <= plan.budget {
            let record = try model.step(step, forwardPasses: forwardPasses)
            forwardPasses += passesPerStep
            step += 1
            lines.append(
                "{\"step\":\(step),\"forward_passes\":\(forwardPasses),\"loss\":\(record.loss),\"gradient_norm\":\(record.gradientNorm)}"
            )
            progress(.step(step: step, forwardPasses: forwardPasses, loss: record.loss))
            if forwardPasses >= nextEvaluation {
                nextEvaluation += evaluationInterval
                progress(.evaluation(try evaluate()))
            }
            if forwardPasses >= nextCheckpoint {
                nextCheckpoint += checkpointInterval
                try directory?.appendSteps(lines)
                lines.removeAll(keepingCapacity: true)
                try checkpoint()
            }
        }
        try directory?.appendSteps(lines)
        if evaluations.last?.forwardPasses != forwardPasses { progress(.evaluation(try evaluate())) }
        if checkpointedAt != forwardPasses { try checkpoint() }
        var summary = TrainingSummary(
            label: model.label, metric: model.metric, forwardPasses: forwardPasses, steps: step,
            final: evaluations.last!, seconds: Date().timeIntervalSince(started))
        model.complete(&summary)
        try directory?.finish(summary: summary, evaluations: evaluations, metric: model.metric)
        return summary
    }

    private func evaluate() throws -> Evaluation {
        let deviceSeconds = model.deviceSeconds
        let (train, test) = try model.measure()
        let evaluation = Evaluation(
            step: step, forwardPasses: forwardPasses, train: train, test: test, deviceSeconds: deviceSeconds,
            loop: model.loopFigures)
        evaluations.append(evaluation)
        try directory?.appendEvaluation(evaluation)
        return evaluation
    }

    private func checkpoint() throws {
        try model.checkpoint { state in
            try directory?.saveCheckpoint(Checkpoint(step: step, forwardPasses: forwardPasses, model: state))
        }
        checkpointedAt = forwardPasses
    }
}
