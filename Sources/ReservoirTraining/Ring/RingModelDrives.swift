import CRealtime
import Foundation
import NeuralNet

extension RingModel {
    /// Streams the batch's drives a_s = pre(x_s) perturbed as a_s + `signedSigma`·z_s (first
    /// pass) and a_s − `signedSigma`·z_s (second), z_s the rows of `directions` (count × N), as
    /// two evaluations back to back; `values` gets the 2B per-sample losses, the first pass's
    /// then the second's. With `readoutGradient`, each pass's exact readout gradient is added.
    func evaluateDrivePairs(
        directions: UnsafeBufferPointer<Double>, signedSigma: Double, rows: StreamRows,
        values: UnsafeMutableBufferPointer<Double>, readoutGradient: UnsafeMutableBufferPointer<Double>?
    ) throws {
        precondition(!readout.isPerturbed, "drive-space perturbation trains the readout by its exact gradient")
        let started = rt_monotonic_nanoseconds()
        var gradientNanoseconds: Int64 = 0
        defer { forwardNanoseconds += rt_monotonic_nanoseconds() - started - gradientNanoseconds }
        let nodes = loop.settings.nodes
        let count = rows.count
        try theta.withUnsafeBufferPointer { p in
            try rows.inputs.withUnsafeBufferPointer { x in
                try withDrive(size: 2 * count * nodes) { allDrive in
                    preNetwork.forward(
                        parameters: UnsafeBufferPointer(rebasing: p[0..<preCount]), inputs: x, count: count,
                        workspace: preWorkspace)
                    let base = preWorkspace.outputs(count: count)
                    let out = allDrive.baseAddress!
                    for index in 0..<(count * nodes) {
                        let signed = signedSigma * directions[index]
                        out[index] = base[index] + signed
                        out[count * nodes + index] = base[index] - signed
                    }
                    try stream(allDrive, count: count, evaluations: 2)
                }
            }
            try states.withUnsafeBufferPointer { s in
                try rows.labels.withUnsafeBufferPointer { labels in
                    try rows.targets.withUnsafeBufferPointer { targets in
                        for pass in 0..<2 {
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

    /// Per-sample losses of pass `pass` of a ± pair (its `values.count / 2` rows, all scored,
    /// starting at that pass's block of `states`) under the shared readout, into that pass's half
    /// of `values`; with `readoutGradient`, the pass's exact readout gradient is added.
    func passLosses(
        pass: Int, states: UnsafeBufferPointer<Double>, readout: UnsafeBufferPointer<Double>,
        labels: UnsafeBufferPointer<Int>, targets: UnsafeBufferPointer<Double>,
        values: UnsafeMutableBufferPointer<Double>, readoutGradient: UnsafeMutableBufferPointer<Double>?,
        gradientNanoseconds: inout Int64
    ) throws {
        let count = values.count / 2
        let nodes = loop.settings.nodes
        let outputs = task.outputCount
        _ = try readoutLoss(
            readout, states: UnsafeBufferPointer(start: states.baseAddress! + pass * count * nodes, count: count * nodes),
            labels: labels, targets: targets, accumulating: readoutGradient, gradientNanoseconds: &gradientNanoseconds)
        let z = readoutWorkspace.outputs(count: count)
        for sample in 0..<count {
            values[pass * count + sample] = readoutNetwork.loss.sampleLoss(
                UnsafeBufferPointer(rebasing: z[(sample * outputs)..<((sample + 1) * outputs)]), label: labels[sample],
                target: targets[sample])
        }
    }

    /// The pre-layer network and its workspace, for a strategy that back-propagates through it.
    func withPreLayer<R>(_ body: (DenseNetwork, NetworkWorkspace) throws -> R) rethrows -> R {
        try body(preNetwork, preWorkspace)
    }

    /// The readout network and its workspace, for a strategy that back-propagates through it.
    func withReadout<R>(_ body: (DenseNetwork, NetworkWorkspace) throws -> R) rethrows -> R {
        try body(readoutNetwork, readoutWorkspace)
    }
}
