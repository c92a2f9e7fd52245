import Foundation
import SeededRandom

/// Draws an MLP run's training batches: a seeded permutation of the training split per epoch,
/// samples taken in order, copied into the batch buffers in the precision the step reads.
/// `samplesDrawn` is all of its state a checkpoint needs.
final class BatchSampler {
    let split: DatasetSplit
    let seed: UInt64
    var samplesDrawn = 0
    /// The batch, in double and single precision, and its labels (capacity rows each).
    private(set) var inputs: [Double]
    private(set) var singleInputs: [Float]
    private(set) var labels: [Int]
    /// The training split in single precision.
    let singleTrainInputs: [Float]
    private var permutation: [Int] = []
    private var permutationEpoch = -1

    init(split: DatasetSplit, seed: UInt64, capacity: Int) {
        self.split = split
        self.seed = seed
        let width = split.train.featureCount
        inputs = [Double](repeating: 0, count: capacity * width)
        singleInputs = [Float](repeating: 0, count: capacity * width)
        labels = [Int](repeating: 0, count: capacity)
        singleTrainInputs = split.train.features.map { Float($0) }
    }

    /// Fills the next `count` samples in, in double precision (`double`) or single: only the
    /// precision the step reads, since the copy is most of a step's overhead.
    func fill(count: Int, double: Bool) {
        let train = split.train
        let width = train.featureCount
        inputs.withUnsafeMutableBufferPointer { doubleBatch in
            singleInputs.withUnsafeMutableBufferPointer { singleBatch in
                train.features.withUnsafeBufferPointer { doubleFeatures in
                    singleTrainInputs.withUnsafeBufferPointer { singleFeatures in
                        for slot in 0..<count {
                            let epoch = samplesDrawn / train.count
                            if permutationEpoch != epoch {
                                permutation = Self.permutation(train.count, seed: seed, epoch: epoch)
                                permutationEpoch = epoch
                            }
                            let index = permutation[samplesDrawn % train.count]
                            if double {
                                (doubleBatch.baseAddress! + slot * width).update(
                                    from: doubleFeatures.baseAddress! + index * width, count: width)
                            } else {
                                (singleBatch.baseAddress! + slot * width).update(
                                    from: singleFeatures.baseAddress! + index * width, count: width)
                            }
                            labels[slot] = train.labels[index]
                            samplesDrawn += 1
                        }
                    }
                }
            }
        }
    }

    /// A random order of 0..<count for `epoch`, from the seed.
    static func permutation(_ count: Int, seed: UInt64, epoch: Int) -> [Int] {
        var random = Xoshiro256StarStar(seed: seed, stream: 900 + UInt64(epoch))
        var order = Array(0..<count)
        for i in stride(from: count - 1, to: 0, by: -1) {
            order.swapAt(i, Int(random.next() % UInt64(i + 1)))
        }
        return order
    }
}
