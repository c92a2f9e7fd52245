import CRealtime
import Foundation
import NeuralNet

extension RingModel {
    /// Per-sample directions (docs/pgt.md): sample s of the batch is driven with its own
    /// perturbation θ ± σ·z_s, so one pair of passes gives B directional derivatives. The
    /// samples are independent (no feedback), so each sample's loss depends on its own
    /// parameters only. Drive of node i for sample s (`DenseNetwork.forwardPerturbedPerSample`):
    ///   a_si = (W x_s + b)_i ± σ·((Z_s^W x_s)_i + z_s^b_i),
    /// and a perturbed readout is perturbed per sample the same way. `directions` holds B rows
    /// of `perturbedWidth`; `values` gets the 2B losses, the first pass's (sign + when
    /// `plusFirst`) then the second's.
    func evaluatePerSample(
        directions: UnsafeBufferPointer<Double>, plusFirst: Bool, sigma: Double, rows: StreamRows,
        values: UnsafeMutableBufferPointer<Double>, readoutGradient: UnsafeMutableBufferPointer<Double>?
    ) throws {
        guard rows.scored == 0..<rows.count else {
            throw RingTaskError(description: "per-sample directions need every row scored")
        }
        precondition(!(readout.isPerturbed && readoutGradient != nil), "a perturbed readout has no exact gradient")
        let started = rt_monotonic_nanoseconds()
        var gradientNanoseconds: Int64 = 0
        defer { forwardNanoseconds += rt_monotonic_nanoseconds() - started - gradientNanoseconds }
        let nodes = loop.settings.nodes
        let count = rows.count
        let width = perturbedWidth
        let signedSigma = plusFirst ? sigma : -sigma
        try theta.withUnsafeBufferPointer { p in
            try rows.inputs.withUnsafeBufferPointer { x in
                try withDrive(size: 2 * count * nodes) { allDrive in
                    preNetwork.forwardPerturbedPerSample(
                        parameters: UnsafeBufferPointer(rebasing: p[0..<preCount]), directions: directions.baseAddress!,
                        directionStride: width, signedSigma: signedSigma, inputs: x, count: count,
                        workspace: preWorkspace, first: allDrive.baseAddress!,
                        second: allDrive.baseAddress! + count * nodes)
                    try stream(allDrive, count: count, evaluations: 2)
                }
            }
            let outputs = task.outputCount
            var perturbedOutputs = [Double](repeating: 0, count: 2 * count * outputs)
            try states.withUnsafeBufferPointer { s in
                try rows.labels.withUnsafeBufferPointer { labels in
                    try rows.targets.withUnsafeBufferPointer { targets in
                        for pass in 0..<2 {
                            let passStates = UnsafeBufferPointer(
                                start: s.baseAddress! + pass * count * nodes, count: count * nodes)
                            func record(_ z: UnsafeBufferPointer<Double>) {
                                for sample in 0..<count {
                                    values[pass * count + sample] = readoutNetwork.loss.sampleLoss(
                                        UnsafeBufferPointer(rebasing: z[(sample * outputs)..<((sample + 1) * outputs)]),
                                        label: labels[sample], target: targets[sample])
                                }
                            }
                            if readout.isPerturbed {
                                // Each sample's own readout R ± σ z_s^R: the first output is
                                // this pass's sign, the second is not used.
                                perturbedOutputs.withUnsafeMutableBufferPointer { o in
                                    readoutNetwork.forwardPerturbedPerSample(
                                        parameters: UnsafeBufferPointer(rebasing: p[preCount...]),
                                        directions: directions.baseAddress! + preCount, directionStride: width,
                                        signedSigma: pass == 0 ? signedSigma : -signedSigma, inputs: passStates,
                                        count: count, workspace: readoutWorkspace, first: o.baseAddress!,
                                        second: o.baseAddress! + count * outputs)
                                    record(UnsafeBufferPointer(rebasing: o[0..<(count * outputs)]))
                                }
                            } else {
                                try passLosses(
                                    pass: pass, states: s, readout: UnsafeBufferPointer(rebasing: p[preCount...]),
                                    labels: labels, targets: targets, values: values, readoutGradient: readoutGradient,
                                    gradientNanoseconds: &gradientNanoseconds)
                            }
                        }
                    }
                }
            }
        }
    }
}
