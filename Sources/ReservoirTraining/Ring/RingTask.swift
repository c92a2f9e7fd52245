import Foundation
import ReservoirBenchmarks
import ReservoirControl
import SeededRandom

/// What the ring model learns (docs/pgt.md, "On the ring"): independent samples of a dataset
/// (each streamed as one input), or one input sequence read out at every step (sine/square
/// classification, NARMA10 regression), which needs the loop's feedback for its memory.
public enum RingTask: Sendable {
    case samples(DatasetSplit)
    case sequence(ReservoirTask, TaskData)

    /// The task named `name` (digits, moons, sine-square, narma10 or csv:PATH) from `seed`;
    /// `digitsFile` is where digits.csv is. `validation`: evaluate on rows carved from the
    /// training split instead of the test split (tuning; `DatasetSplit.carvingValidation`).
    public static func named(_ name: String, seed: UInt64, digitsFile: String, validation: Bool = false) throws
        -> RingTask
    {
        func samples(_ dataset: Dataset) -> RingTask {
            let split = DatasetSplit(dataset, seed: seed)
            return .samples(validation ? split.carvingValidation(seed: seed) : split)
        }
        guard !validation || !(name == "sine-square" || name == "narma10") else {
            throw RingTaskError(description: "a validation split is carved from independent samples; \(name) is a sequence")
        }
        switch name {
        case "digits": return samples(try Datasets.loadCSV(digitsFile, name: "digits"))
        case "moons": return samples(Datasets.moons(seed: seed))
        case "sine-square": return .sequence(.sineSquare, TaskData.make(.sineSquare, seed: seed))
        case "narma10": return .sequence(.narma10, TaskData.make(.narma10, seed: seed))
        default:
            guard name.hasPrefix("csv:") else {
                throw RingTaskError(
                    description: "unknown task \(name); expected digits, moons, sine-square, narma10 or csv:PATH")
            }
            return samples(try Datasets.loadCSV(String(name.dropFirst(4))))
        }
    }

    /// Inputs per streamed row: the dataset's features, or the one scalar of a sequence.
    public var featureCount: Int {
        switch self {
        case .samples(let split): return split.train.featureCount
        case .sequence: return 1
        }
    }

    /// Outputs of the readout: one per class, or one value (regression).
    public var outputCount: Int {
        switch self {
        case .samples(let split): return split.train.classCount
        case .sequence(let task, _): return task == .narma10 ? 1 : 2
        }
    }

    /// Whether the readout regresses (squared error, NRMSE) rather than classifies.
    public var isRegression: Bool {
        if case .sequence(.narma10, _) = self { return true }
        return false
    }

    /// Rows of the largest evaluation (a whole split, or the whole sequence).
    var largestEvaluation: Int {
        switch self {
        case .samples(let split): return max(split.train.count, split.test.count)
        case .sequence(_, let data): return data.inputs.count
        }
    }

    /// Whether consecutive rows depend on each other (the loop's feedback carries them).
    public var isSequence: Bool {
        if case .sequence = self { return true }
        return false
    }
}

public struct RingTaskError: Error, CustomStringConvertible, Sendable {
    public var description: String

    public init(description: String) { self.description = description }
}

/// Rows of a task laid out for streaming: inputs (rows × F), with the label or target of each
/// row, and which rows are scored.
public struct StreamRows: Sendable {
    public internal(set) var inputs: [Double]
    public internal(set) var labels: [Int]
    public internal(set) var targets: [Double]
    /// Rows whose outputs count (a sequence's washout rows are streamed but not scored).
    public internal(set) var scored: Range<Int>
    public var count: Int { labels.count }
}

extension RingTask {
    /// The normalized input of sequence row k: (u(k) − centre)/halfRange, in [−1, 1].
    static func normalizedInput(_ data: TaskData, _ k: Int) -> Double {
        (data.inputs[k] - data.inputCentre) / data.inputHalfRange
    }

    /// Rows `range` of a sequence, all scored from `scoredFrom` on.
    static func sequenceRows(_ task: ReservoirTask, _ data: TaskData, _ range: Range<Int>, scoredFrom: Int)
        -> StreamRows
    {
        let target = data.targets[0]
        return StreamRows(
            inputs: range.map { normalizedInput(data, $0) },
            labels: range.map { task == .narma10 ? 0 : Int(target[$0]) },
            targets: range.map { target[$0] }, scored: (scoredFrom - range.lowerBound)..<range.count)
    }

    /// The training mini-batch of step `step`: `batch` random samples, or a window of `batch`
    /// scored rows from the training rows after `washout` unscored ones. Drawn from the seed
    /// and the step alone, so a resumed run draws the same batches.
    ///
    /// `inputNoise` σ_x adds N(0, σ_x²) to every (standardized) feature of a sample, drawn anew
    /// each step: x̃ = x + σ_x·ε. Training on noisy copies of the inputs is, to first order,
    /// Tikhonov regularization of the model's input-output map, E[L(x + σ_x·ε)] ≈ L(x) +
    /// ½σ_x²·Σᵢ ∂²L/∂xᵢ² (Bishop 1995): a penalty on how steeply the outputs move with the
    /// inputs, which a model that fits its training split perfectly needs (`RingModel.inputNoise`).
    /// Samples only: a sequence's inputs are its signal, and it takes none.
    public func trainingBatch(step: Int, batch: Int, washout: Int, seed: UInt64, inputNoise: Double) -> StreamRows {
        var random = Xoshiro256StarStar(seed: seed, stream: 2_700 &+ UInt64(bitPattern: Int64(step)) &* 2)
        switch self {
        case .samples(let split):
            let train = split.train
            let width = train.featureCount
            var rows = StreamRows(inputs: [], labels: [], targets: [], scored: 0..<batch)
            rows.inputs.reserveCapacity(batch * width)
            var noise = GaussianSource(seed: seed, stream: 91_000 &+ UInt64(bitPattern: Int64(step)))
            for _ in 0..<batch {
                let index = Int(random.next() % UInt64(train.count))
                if inputNoise > 0 {
                    rows.inputs.append(contentsOf: train.row(index).map { $0 + inputNoise * noise.next() })
                } else {
                    rows.inputs.append(contentsOf: train.row(index))
                }
                rows.labels.append(train.labels[index])
                rows.targets.append(0)
            }
            return rows
        case .sequence(let task, let data):
            let trainRows = data.trainRows
            let lastStart = max(trainRows.upperBound - batch, trainRows.lowerBound)
            let start = trainRows.lowerBound + Int(random.next() % UInt64(lastStart - trainRows.lowerBound + 1))
            let first = max(start - washout, 0)
            return Self.sequenceRows(task, data, first..<min(start + batch, trainRows.upperBound), scoredFrom: start)
        }
    }

    /// The rows that measure the model: the training or the test split of a dataset; for a
    /// sequence, the whole sequence from its start (the feedback needs its history), scored on
    /// the training or test rows.
    func evaluationRows(test: Bool) -> StreamRows {
        switch self {
        case .samples(let split):
            let data = test ? split.test : split.train
            return StreamRows(
                inputs: data.features, labels: data.labels, targets: [Double](repeating: 0, count: data.count),
                scored: 0..<data.count)
        case .sequence(let task, let data):
            let rows = test ? data.testRows : data.trainRows
            var all = Self.sequenceRows(task, data, 0..<rows.upperBound, scoredFrom: rows.lowerBound)
            all.scored = rows
            return all
        }
    }
}
