import Foundation

/// Per-sample perturbed forward passes (docs/pgt.md, "per-sample directions"): in one pass over
/// a batch, sample s sees its own parameters θ ± σ·z_s, so a pair of passes gives B
/// directional derivatives. For a one-layer network with identity activation the perturbed
/// output needs no second matrix product per sample:
///
///   y_s± = (W x_s + b) ± σ·(Z_s^W x_s + z_s^b)
///
/// with z_s laid out like θ (Z^W row-major outputs × inputs, then z^b).
extension DenseNetwork {
    /// Writes y_s at θ + `signedSigma`·z_s into `first` and at θ − `signedSigma`·z_s into
    /// `second` (count × outputs each), for a one-layer identity network. `directions` holds
    /// one row per sample, `directionStride` apart, each starting with this layer's W then b.
    /// The unperturbed outputs W x_s + b are computed with the network's kernels first; they
    /// stay in `workspace.outputs`.
    public func forwardPerturbedPerSample(
        parameters: UnsafeBufferPointer<Double>, directions: UnsafePointer<Double>, directionStride: Int,
        signedSigma: Double, inputs: UnsafeBufferPointer<Double>, count: Int, workspace: NetworkWorkspace,
        first: UnsafeMutablePointer<Double>, second: UnsafeMutablePointer<Double>
    ) {
        precondition(widths.count == 2 && activations == [.identity], "per-sample perturbation of one linear layer")
        let inputWidth = widths[0]
        let outputWidth = widths[1]
        forward(parameters: parameters, inputs: inputs, count: count, workspace: workspace)
        let base = workspace.outputs(count: count)
        for sample in 0..<count {
            let z = directions + sample * directionStride
            let input = inputs.baseAddress! + sample * inputWidth
            for unit in 0..<outputWidth {
                var delta = z[outputWidth * inputWidth + unit]
                let row = z + unit * inputWidth
                for j in 0..<inputWidth { delta += row[j] * input[j] }
                let centre = base[sample * outputWidth + unit]
                let signed = signedSigma * delta
                first[sample * outputWidth + unit] = centre + signed
                second[sample * outputWidth + unit] = centre - signed
            }
        }
    }
}

extension Loss {
    /// One sample's loss from its outputs z: softmax cross-entropy log Σ_c e^{z_c} − z_y
    /// (shifted by max z, so no exponential overflows), or ½(z₀ − t)² for squared error on
    /// one output. The per-sample values a per-sample estimator needs; `DenseNetwork.loss` is
    /// their mean over a batch.
    public func sampleLoss(_ outputs: UnsafeBufferPointer<Double>, label: Int, target: Double) -> Double {
        switch self {
        case .squaredError:
            return 0.5 * (outputs[0] - target) * (outputs[0] - target)
        case .softmaxCrossEntropy:
            var largest = outputs[0]
            for z in outputs where z > largest { largest = z }
            var sum = 0.0
            for z in outputs { sum += Foundation.exp(z - largest) }
            return largest + Foundation.log(sum) - outputs[label]
        }
    }
}

extension DenseNetwork {
    /// A batch whose targets are what this network's loss reads: class labels for softmax
    /// cross-entropy, values for squared error.
    public func batch(
        inputs: UnsafeBufferPointer<Double>, labels: UnsafeBufferPointer<Int>, targets: UnsafeBufferPointer<Double>,
        count: Int
    ) -> Batch {
        switch loss {
        case .softmaxCrossEntropy: return Batch(inputs: inputs, labels: labels, count: count)
        case .squaredError: return Batch(inputs: inputs, targets: targets, count: count)
        }
    }
}
