/// What a batch's outputs are compared with: class labels (softmax cross-entropy) or values
/// (squared error), never both, never neither.
public enum BatchTargets {
    case classes(UnsafeBufferPointer<Int>)
    /// count × output width.
    case values(UnsafeBufferPointer<Double>)
}

/// A batch: inputs (count × input width, row-major) and its targets.
public struct Batch {
    public var inputs: UnsafeBufferPointer<Double>
    public var targets: BatchTargets
    public var count: Int
    /// The inputs in single precision, for `MatrixKernels.blasSingle` (without them each
    /// forward pass converts the inputs itself).
    public var singleInputs: UnsafeBufferPointer<Float>?

    /// A batch of `count` samples labelled with classes.
    public init(
        inputs: UnsafeBufferPointer<Double>, labels: UnsafeBufferPointer<Int>, count: Int,
        singleInputs: UnsafeBufferPointer<Float>? = nil
    ) {
        self.inputs = inputs
        targets = .classes(labels)
        self.count = count
        self.singleInputs = singleInputs
    }

    /// A batch of `count` samples with target values (count × output width).
    public init(inputs: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Double>, count: Int) {
        self.inputs = inputs
        self.targets = .values(targets)
        self.count = count
        singleInputs = nil
    }

    /// The samples `rows` of this batch (no copy), for a network of these input and output widths.
    public func rows(_ rows: Range<Int>, inputWidth: Int, outputWidth: Int) -> Batch {
        let inputs = UnsafeBufferPointer(rebasing: inputs[(rows.lowerBound * inputWidth)..<(rows.upperBound * inputWidth)])
        switch targets {
        case .classes(let labels):
            return Batch(inputs: inputs, labels: UnsafeBufferPointer(rebasing: labels[rows]), count: rows.count)
        case .values(let values):
            return Batch(
                inputs: inputs,
                targets: UnsafeBufferPointer(rebasing: values[(rows.lowerBound * outputWidth)..<(rows.upperBound * outputWidth)]),
                count: rows.count)
        }
    }

    /// The class labels; a network whose loss reads labels was given values otherwise.
    func labels(for loss: Loss) -> UnsafeBufferPointer<Int> {
        guard case .classes(let labels) = targets else {
            preconditionFailure("\(loss) needs class labels; the batch has target values")
        }
        return labels
    }

    /// The target values; a network whose loss reads values was given labels otherwise.
    func values(for loss: Loss) -> UnsafeBufferPointer<Double> {
        guard case .values(let values) = targets else {
            preconditionFailure("\(loss) needs target values; the batch has class labels")
        }
        return values
    }
}
