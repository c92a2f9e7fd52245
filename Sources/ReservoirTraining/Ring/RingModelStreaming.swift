import CRealtime
import Foundation
import NeuralNet
import PerturbativeTraining
import ReservoirBenchmarks
import ReservoirControl
import ReservoirHAL
import SeededRandom

/// The ring model's forward passes: pre-layer → drive loop → readout, the loss of each
/// evaluation and the readout's exact gradient.
extension RingModel {
    /// Streams `rows` once per parameter vector in `vectors` (rows of `width`: the pre-layer,
    /// then the readout if `width` covers it, else θ's readout) in one call of the drive loop,
    /// and writes each evaluation's mean loss over the scored rows into `losses`; with
    /// `readoutGradient`, adds each evaluation's exact readout gradient to it.
    func evaluate(
        vectors: UnsafeBufferPointer<Double>, width: Int, rows: StreamRows,
        losses: UnsafeMutableBufferPointer<Double>, readoutGradient: UnsafeMutableBufferPointer<Double>?
    ) throws {
        let started = rt_monotonic_nanoseconds()
        var gradientNanoseconds: Int64 = 0
        defer { forwardNanoseconds += rt_monotonic_nanoseconds() - started - gradientNanoseconds }
        let evaluations = losses.count
        let nodes = loop.settings.nodes
        let count = rows.count
        let size = evaluations * count * nodes
        reserveStreamBuffers(size)
        try rows.inputs.withUnsafeBufferPointer { x in
            try drive.withUnsafeMutableBufferPointer { allDrive in
                for e in 0..<evaluations {
                    let pre = UnsafeBufferPointer(rebasing: vectors[(e * width)..<(e * width + preCount)])
                    preNetwork.forward(parameters: pre, inputs: x, count: count, workspace: preWorkspace)
                    let output = preWorkspace.outputs(count: count)
                    (allDrive.baseAddress! + e * count * nodes).update(from: output.baseAddress!, count: count * nodes)
                }
                try stream(allDrive, count: count, evaluations: evaluations)
            }
        }
        let scored = rows.scored
        let ownReadout = width > preCount
        try states.withUnsafeBufferPointer { s in
            try rows.labels.withUnsafeBufferPointer { labels in
                try rows.targets.withUnsafeBufferPointer { targets in
                    try theta.withUnsafeBufferPointer { t in
                        for e in 0..<evaluations {
                            let scoredStates = UnsafeBufferPointer(
                                start: s.baseAddress! + (e * count + scored.lowerBound) * nodes,
                                count: scored.count * nodes)
                            let readout = UnsafeBufferPointer(
                                rebasing: ownReadout ? vectors[(e * width + preCount)..<((e + 1) * width)] : t[preCount...])
                            losses[e] = try readoutLoss(
                                readout, states: scoredStates, labels: UnsafeBufferPointer(rebasing: labels[scored]),
                                targets: UnsafeBufferPointer(rebasing: targets[scored]), accumulating: readoutGradient,
                                gradientNanoseconds: &gradientNanoseconds)
                        }
                    }
                }
            }
        }
    }

    /// Streams `evaluations` × `count` drive rows through the loop into `states`.
    func stream(_ allDrive: UnsafeMutableBufferPointer<Double>, count: Int, evaluations: Int) throws {
        let size = evaluations * count * loop.settings.nodes
        let periodsBefore = loop.statistics.evaluationPeriods
        try states.withUnsafeMutableBufferPointer { allStates in
            try loop.evaluate(
                drive: UnsafeBufferPointer(rebasing: allDrive[0..<size]), inputCount: count,
                evaluationCount: evaluations, states: UnsafeMutableBufferPointer(rebasing: allStates[0..<size]))
        }
        samplesStreamed += evaluations * count
        if measuring { measurementPeriods += loop.statistics.evaluationPeriods - periodsBefore }
    }

    /// The readout's mean loss on `states` (its outputs stay in the workspace); with
    /// `accumulating`, its exact gradient is added there too (timed as bookkeeping, not as a
    /// forward pass).
    func readoutLoss(
        _ readout: UnsafeBufferPointer<Double>, states: UnsafeBufferPointer<Double>, labels: UnsafeBufferPointer<Int>,
        targets: UnsafeBufferPointer<Double>, accumulating readoutGradient: UnsafeMutableBufferPointer<Double>?,
        gradientNanoseconds: inout Int64
    ) throws -> Double {
        let batch = readoutNetwork.batch(inputs: states, labels: labels, targets: targets, count: labels.count)
        guard let readoutGradient else {
            return readoutNetwork.loss(parameters: readout, batch: batch, workspace: readoutWorkspace)
        }
        let started = rt_monotonic_nanoseconds()
        let loss = gradientScratch.withUnsafeMutableBufferPointer { g in
            readoutNetwork.lossAndGradient(parameters: readout, batch: batch, workspace: readoutWorkspace, gradient: g)
        }
        for index in gradientScratch.indices { readoutGradient[index] += gradientScratch[index] }
        gradientNanoseconds += rt_monotonic_nanoseconds() - started
        return loss
    }

    /// Grows the drive and state buffers to `size` values (the largest evaluation so far).
    func reserveStreamBuffers(_ size: Int) {
        guard drive.count < size else { return }
        drive = [Double](repeating: 0, count: size)
        states = [Double](repeating: 0, count: size)
    }

    /// Runs `body` with the drive buffer (at least `size` values).
    func withDrive<R>(size: Int, _ body: (UnsafeMutableBufferPointer<Double>) throws -> R) rethrows -> R {
        reserveStreamBuffers(size)
        return try drive.withUnsafeMutableBufferPointer { try body($0) }
    }
}


/// sqrt(mean((ŷ − y)²)/var(y)): a regression's error relative to predicting the mean.
public enum NRMSE {
    public static func of(_ predicted: UnsafeBufferPointer<Double>, targets: ArraySlice<Double>) -> Double {
        let actual = Array(targets)
        let mean = actual.reduce(0, +) / Double(actual.count)
        let variance = actual.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(actual.count)
        var error = 0.0
        for (index, y) in actual.enumerated() { error += (predicted[index] - y) * (predicted[index] - y) }
        return (error / Double(actual.count) / variance).squareRoot()
    }
}
