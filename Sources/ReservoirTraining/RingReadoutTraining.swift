import Foundation
import ReservoirControl
import ReservoirHAL
import SeededRandom

/// Classic reservoir computing on a classification dataset, through the ring: a fixed random
/// mask maps each sample's features to the drive of the N virtual nodes, the drive loop runs
/// the samples one after another on the board, and a ridge readout per class (one-vs-rest,
/// targets ±1, λ chosen on validation rows; docs/tasks.md) is trained on the node states. The
/// baseline PGT-trained pre-layers have to beat (issue 6's `--mode readout`).
///
/// Drive of node i for sample x (F standardized features): a_i = γ·(m_i·x)/√F, m_ij = ±1 from
/// the seed, so a_i has standard deviation about γ whatever F is.
public struct RingReadoutTraining {
    public let loop: DriveLoop
    /// γ, the drive scale.
    public var inputScale: Double
    public var seed: UInt64
    /// Training rows held out to choose λ.
    public var validationCount = 200

    public init(loop: DriveLoop, inputScale: Double, seed: UInt64) {
        self.loop = loop
        self.inputScale = inputScale
        self.seed = seed
    }

    public struct Result: Sendable {
        public var trainAccuracy: Double
        public var testAccuracy: Double
        /// Samples streamed through the ring (each one forward pass of one sample).
        public var samplesStreamed: Int
    }

    /// The ±1 mask, N × F.
    public func mask(features: Int) -> [Double] {
        var random = Xoshiro256StarStar(seed: seed, stream: 2_600)
        return (0..<(loop.settings.nodes * features)).map { _ in random.next() >> 63 == 1 ? 1 : -1 }
    }

    /// Streams the training samples, then the test samples, and fits and scores the readout.
    public func run(split: DatasetSplit) throws -> Result {
        let nodes = loop.settings.nodes
        let width = split.train.featureCount
        let mask = mask(features: width)
        let count = split.train.count + split.test.count
        let scale = inputScale / Double(width).squareRoot()
        var drive = [Double](repeating: 0, count: count * nodes)
        for row in 0..<count {
            let (data, index) = row < split.train.count ? (split.train, row) : (split.test, row - split.train.count)
            for node in 0..<nodes {
                var sum = 0.0
                for j in 0..<width { sum += mask[node * width + j] * data.features[index * width + j] }
                drive[row * nodes + node] = scale * sum
            }
        }
        var states = [Double](repeating: 0, count: count * nodes)
        try drive.withUnsafeBufferPointer { input throws(LoopStopped) in
            try states.withUnsafeMutableBufferPointer { output throws(LoopStopped) in
                try loop.run(drive: input, inputCount: count, states: output)
            }
        }
        let labels = split.train.labels + split.test.labels
        let trainRows = 0..<split.train.count
        let readouts = (0..<split.train.classCount).map { label in
            trainReadout(
                states: states, width: nodes, targets: labels.map { $0 == label ? 1 : -1 }, trainRows: trainRows,
                validationCount: validationCount)
        }
        func accuracy(_ rows: Range<Int>) -> Double {
            let scores = readouts.map { $0.predict(states: states, width: nodes, rows: rows) }
            var correct = 0
            for (position, row) in rows.enumerated() {
                let predicted = (0..<scores.count).max { scores[$0][position] < scores[$1][position] }!
                if predicted == labels[row] { correct += 1 }
            }
            return Double(correct) / Double(rows.count)
        }
        return Result(
            trainAccuracy: accuracy(trainRows), testAccuracy: accuracy(split.train.count..<count),
            samplesStreamed: count)
    }
}
