import Foundation
import NeuralNet
import PerturbativeTraining

/// `static-curve`: the ceiling the perturbative strategies are measured against (issue 14).
/// Pre-layer and readout are trained offline by backpropagation through the ring's calibrated
/// static transfer curve (`StaticTransferCurve`, x̂ = f(a) per node), as if the ring were that
/// curve: no memory between nodes, no noise, no drift. The network is then only streamed through
/// the real ring (or twin) for its evaluations. What it loses against the curve is what the
/// curve does not know of the ring; no device time goes into training.
///
/// Per step, on a batch: a = pre(x), s = f(a), L = readout loss; ∂L/∂s from the readout's
/// backward pass, ∂L/∂a = ∂L/∂s ⊙ f′(a), ∂L/∂θ_pre by the chain rule through the pre-layer;
/// Adam on both (the readout with its weight decay), cosine schedule.
public final class StaticCurveFit: RingReadoutWithoutOptimizer {
    public let curve: StaticTransferCurve?
    /// Passes over the training split (digital: no device time), and the pre-layer's Adam rate.
    public static let epochs = 60
    public static let learningRate = 0.003

    public init(curve: StaticTransferCurve?) { self.curve = curve }

    /// Trains offline with the board's session closed (the board safe): seconds of CPU work
    /// inside a session would hold the ring enabled and idle, which the loop's watchdog ends
    /// after `DriveLoop.idleTimeout` (rightly: nothing is driving it).
    public func begin(model: RingModel) throws -> Int {
        model.loop.closeSession()
        try fit(model)
        try model.loop.openSession()
        return 0
    }

    private func fit(_ model: RingModel) throws {
        guard let curve else {
            throw RingTaskError(
                description: "static-curve training needs the board's calibrated transfer curve: run ringlab calibrate first")
        }
        guard case .samples(let split) = model.task else {
            throw RingTaskError(description: "static-curve training needs independent samples (the curve has no memory)")
        }
        let settings = model.settings
        let readoutDecay = RingModel.readoutWeightDecay(settings, loop: model.loop, sequence: false)
        let preLearningRate = RingModel.preLearningRate(settings, loop: model.loop, sequence: false)
        let nodes = model.loop.settings.nodes
        let batch = min(settings.batch, split.train.count)
        let steps = Self.epochs * max(split.train.count / batch, 1)
        let preCount = model.preCount
        var pre = Optimizer(kind: .adam, dimension: preCount)
        var readout = Optimizer(kind: .adam, dimension: model.readoutCount)
        var preGradient = [Double](repeating: 0, count: preCount)
        var readoutGradient = [Double](repeating: 0, count: model.readoutCount)
        var states = [Double](repeating: 0, count: batch * nodes)
        var slopes = states
        var stateGradient = states
        for step in 0..<steps {
            let rows = model.task.trainingBatch(
                step: step, batch: batch, washout: 0, seed: settings.seed &+ 0x57A7, inputNoise: model.inputNoise)
            model.theta.withUnsafeMutableBufferPointer { theta in
                let preParameters = UnsafeBufferPointer(rebasing: theta[0..<preCount])
                rows.inputs.withUnsafeBufferPointer { x in
                    model.withPreLayer { network, workspace in
                        network.forward(parameters: preParameters, inputs: x, count: batch, workspace: workspace)
                        let drives = workspace.outputs(count: batch)
                        for index in 0..<(batch * nodes) {
                            (states[index], slopes[index]) = curve.state(drives[index])
                        }
                    }
                    states.withUnsafeBufferPointer { s in
                        rows.labels.withUnsafeBufferPointer { labels in
                            rows.targets.withUnsafeBufferPointer { targets in
                                readoutGradient.withUnsafeMutableBufferPointer { g in
                                    stateGradient.withUnsafeMutableBufferPointer { gs in
                                        model.withReadout { network, workspace in
                                            _ = network.lossAndGradient(
                                                parameters: UnsafeBufferPointer(rebasing: theta[preCount...]),
                                                batch: network.batch(inputs: s, labels: labels, targets: targets, count: batch),
                                                workspace: workspace, gradient: g, inputGradient: gs)
                                        }
                                    }
                                }
                            }
                        }
                    }
                    for index in 0..<(batch * nodes) { stateGradient[index] *= slopes[index] }
                    stateGradient.withUnsafeBufferPointer { driveGradient in
                        preGradient.withUnsafeMutableBufferPointer { g in
                            model.withPreLayer { network, workspace in
                                network.gradient(
                                    parameters: preParameters, inputs: x, count: batch, outputGradient: driveGradient,
                                    workspace: workspace, gradient: g)
                            }
                        }
                    }
                }
                let preRate = Schedule.cosine.rate(base: preLearningRate, step: step, totalSteps: steps)
                let readoutRate = Schedule.cosine.rate(base: settings.readoutLearningRate, step: step, totalSteps: steps)
                preGradient.withUnsafeBufferPointer { g in
                    pre.apply(gradient: g, learningRate: preRate, to: UnsafeMutableBufferPointer(rebasing: theta[0..<preCount]))
                }
                readoutGradient.withUnsafeBufferPointer { g in
                    readout.apply(
                        gradient: g, learningRate: readoutRate, weightDecay: readoutDecay,
                        to: UnsafeMutableBufferPointer(rebasing: theta[preCount...]))
                }
            }
        }
    }
}
