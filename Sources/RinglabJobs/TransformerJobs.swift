import Foundation
import NeuralNet
import ReservoirTraining

extension TrainJobs {
    /// Trains the transformer as `settings` say, in `directory` if given.
    public static func transformer(
        _ settings: TransformerSettings, directory: String?, progress: (TrainingProgress) -> Void = { _ in }
    ) throws -> TrainingSummary {
        let folder = try directory.map { try RunDirectory(path: $0) }
        try folder?.saveConfiguration(RunConfiguration(model: "transformer", mlp: nil, ring: nil, transformer: settings))
        return try transformer(settings, folder: folder, resuming: false, progress: progress)
    }

    /// Builds the model and its reservoir and runs it (continuing the folder's run when
    /// `resuming`).
    static func transformer(
        _ settings: TransformerSettings, folder: RunDirectory?, resuming: Bool, progress: (TrainingProgress) -> Void
    ) throws -> TrainingSummary {
        if let problem = settings.problem { throw TransformerModelError(description: problem) }
        let split = try transformerSplit(settings.task, seed: settings.seed, validation: settings.validation)
        let reservoir = try transformerReservoir(settings, folder: folder)
        let run = TrainingRun(
            model: TransformerModel(settings: settings, split: split, reservoir: reservoir), plan: settings.plan,
            directory: folder)
        if resuming { try run.resume() }
        return try run.run(progress: progress)
    }

    /// The reservoir `settings` name (nil for none); the ring's board identity goes into the
    /// run's folder (board.json), as a ring run's does.
    static func transformerReservoir(_ settings: TransformerSettings, folder: RunDirectory?) throws -> (any ReservoirLayer)? {
        switch settings.reservoir {
        case .none: return nil
        case .digital:
            return DigitalReservoir(
                width: settings.shape.width, expansion: settings.expansion, seed: settings.seed,
                capacity: 2 * settings.batch * settings.shape.tokens)
        case .ring:
            // N = d virtual nodes, no feedback (tokens must not mix through the ring's memory).
            var ring = RingSettings()
            ring.board = settings.board
            ring.nodes = settings.shape.width
            ring.shots = settings.shots
            ring.seed = settings.seed
            ring.randomizedTwin = settings.randomizedTwin
            let setup = try ringLoop(for: &ring, chooseFeedback: true, feedback: 0)
            try folder?.saveRecord(setup.identity, named: "board.json")
            return RingReservoir(loop: setup.loop, seed: settings.seed)
        }
    }

    /// The split a transformer trains on: MNIST-1D's fixed train and test files (or a CSV
    /// split 70 : 30 as the MLP's is), or the validation split carved from its training part.
    public static func transformerSplit(_ task: String, seed: UInt64, validation: Bool) throws -> DatasetSplit {
        let split: DatasetSplit
        let standardizing: Bool
        if task == "mnist1d" {
            split = DatasetSplit(
                train: try Datasets.loadCSV(Composition.locateDefault("data/mnist1d-train.csv"), name: "mnist1d (train)"),
                test: try Datasets.loadCSV(Composition.locateDefault("data/mnist1d-test.csv"), name: "mnist1d (test)"))
            standardizing = false
        } else {
            guard task.hasPrefix("csv:") else {
                throw TransformerModelError(description: "unknown task \(task); expected mnist1d or csv:PATH")
            }
            split = DatasetSplit(try Datasets.loadCSV(String(task.dropFirst(4))), seed: seed)
            standardizing = true
        }
        return validation ? split.carvingValidation(seed: seed, standardizing: standardizing) : split
    }
}
