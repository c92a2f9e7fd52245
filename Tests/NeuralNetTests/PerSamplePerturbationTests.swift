import Foundation
import NeuralNet
import SeededRandom
import Testing

@Suite struct PerSamplePerturbationTests {
    /// y_s± = (W x_s + b) ± σ(Z_s x_s + z_s) against the plain forward pass at the perturbed
    /// parameters θ ± σz_s, sample by sample (the closed form it shortcuts).
    @Test func perturbedOutputsAreTheForwardPassAtThePerturbedParameters() {
        let network = DenseNetwork(widths: [5, 3], activations: [.identity], loss: .squaredError)
        let count = 4
        let d = network.parameterCount
        var random = Xoshiro256StarStar(seed: 11, stream: 1)
        let theta = network.initialParameters(seed: 3)
        let inputs = (0..<(count * 5)).map { _ in random.nextUnitInterval() - 0.5 }
        let stride = d + 2  // rows wider than the layer: the stride is honoured
        let directions = (0..<(count * stride)).map { _ in random.next() >> 63 == 1 ? 1.0 : -1.0 }
        let sigma = 0.03
        let workspace = NetworkWorkspace(network: network, capacity: count)
        var first = [Double](repeating: 0, count: count * 3)
        var second = first
        theta.withUnsafeBufferPointer { p in
            inputs.withUnsafeBufferPointer { x in
                directions.withUnsafeBufferPointer { z in
                    network.forwardPerturbedPerSample(
                        parameters: p, directions: z.baseAddress!, directionStride: stride, signedSigma: -sigma,
                        inputs: x, count: count, workspace: workspace, first: &first, second: &second)
                }
            }
        }
        let single = NetworkWorkspace(network: network, capacity: 1)
        for sample in 0..<count {
            for (sign, outputs) in [(-1.0, first), (1.0, second)] {
                let perturbed = (0..<d).map { theta[$0] + sign * sigma * directions[sample * stride + $0] }
                let expected = perturbed.withUnsafeBufferPointer { p in
                    inputs.withUnsafeBufferPointer { x in
                        network.forward(
                            parameters: p, inputs: UnsafeBufferPointer(rebasing: x[(sample * 5)..<((sample + 1) * 5)]),
                            count: 1, workspace: single)
                        return Array(single.outputs(count: 1))
                    }
                }
                for unit in 0..<3 {
                    #expect(abs(outputs[sample * 3 + unit] - expected[unit]) < 1e-12, "sample \(sample) unit \(unit)")
                }
            }
        }
    }

    /// Per-sample losses average to the network's batch loss (the same outputs and targets).
    @Test(arguments: [Loss.softmaxCrossEntropy, .squaredError])
    func sampleLossesAverageToTheBatchLoss(loss: Loss) {
        let outputs = loss == .squaredError ? 1 : 4
        let network = DenseNetwork(widths: [6, outputs], activations: [.identity], loss: loss)
        let count = 9
        var random = Xoshiro256StarStar(seed: 5, stream: 2)
        let inputs = (0..<(count * 6)).map { _ in 4 * random.nextUnitInterval() - 2 }
        let labels = (0..<count).map { $0 % outputs }
        let targets = (0..<count).map { Double($0) / 4 - 1 }
        let theta = network.initialParameters(seed: 8)
        let workspace = NetworkWorkspace(network: network, capacity: count)
        let (mean, perSample) = theta.withUnsafeBufferPointer { p in
            inputs.withUnsafeBufferPointer { x in
                labels.withUnsafeBufferPointer { y in
                    targets.withUnsafeBufferPointer { t in
                        let batch = network.batch(inputs: x, labels: y, targets: t, count: count)
                        let mean = network.loss(parameters: p, batch: batch, workspace: workspace)
                        let z = workspace.outputs(count: count)
                        let values = (0..<count).map { s in
                            loss.sampleLoss(
                                UnsafeBufferPointer(rebasing: z[(s * outputs)..<((s + 1) * outputs)]), label: labels[s],
                                target: targets[s])
                        }
                        return (mean, values)
                    }
                }
            }
        }
        #expect(abs(perSample.reduce(0, +) / Double(count) - mean) < 1e-12 * max(1, abs(mean)))
        // Softmax cross-entropy by its definition, −log(e^{z_y}/Σe^{z_c}), for one sample.
        if loss == .softmaxCrossEntropy {
            let z: [Double] = [1000, 999, -3, 0.5]  // shifted by the maximum: no overflow
            let direct = -log(exp(z[1] - 1000) / z.map { exp($0 - 1000) }.reduce(0, +))
            let value = z.withUnsafeBufferPointer { loss.sampleLoss($0, label: 1, target: 0) }
            #expect(abs(value - direct) < 1e-12)
        }
    }
}

@Suite struct OutputGradientTests {
    /// ∂L/∂θ from a given ∂L/∂y (the chain rule `DrivePerturbation` uses) against central finite
    /// differences of L = Σ_s g_s·y_s(θ), a linear functional of the outputs whose gradient at
    /// the outputs is exactly g.
    @Test func theChainRuleFromGivenOutputGradientsMatchesFiniteDifferences() {
        let network = DenseNetwork(widths: [4, 6, 3], activations: [.tanh, .identity], loss: .squaredError)
        let count = 5
        var random = Xoshiro256StarStar(seed: 21, stream: 3)
        let theta = network.initialParameters(seed: 4).map { $0 * 1.3 }
        let inputs = (0..<(count * 4)).map { _ in 2 * random.nextUnitInterval() - 1 }
        let g = (0..<(count * 3)).map { _ in random.nextUnitInterval() - 0.5 }
        let workspace = NetworkWorkspace(network: network, capacity: count)
        func functional(_ parameters: [Double]) -> Double {
            parameters.withUnsafeBufferPointer { p in
                inputs.withUnsafeBufferPointer { x in
                    network.forward(parameters: p, inputs: x, count: count, workspace: workspace)
                    let y = workspace.outputs(count: count)
                    return (0..<(count * 3)).reduce(0.0) { $0 + g[$1] * y[$1] }
                }
            }
        }
        var gradient = [Double](repeating: 0, count: network.parameterCount)
        theta.withUnsafeBufferPointer { p in
            inputs.withUnsafeBufferPointer { x in
                g.withUnsafeBufferPointer { outputGradient in
                    gradient.withUnsafeMutableBufferPointer { result in
                        network.gradient(
                            parameters: p, inputs: x, count: count, outputGradient: outputGradient,
                            workspace: workspace, gradient: result)
                    }
                }
            }
        }
        let h = 1e-6
        for index in 0..<network.parameterCount {
            var plus = theta
            var minus = theta
            plus[index] += h
            minus[index] -= h
            let numeric = (functional(plus) - functional(minus)) / (2 * h)
            #expect(abs(gradient[index] - numeric) < 1e-7, "parameter \(index): \(gradient[index]) against \(numeric)")
        }
    }

    /// ∂L/∂x from `lossAndGradient(…, inputGradient:)` (what backprop through the ring's static
    /// curve needs from the readout) against central finite differences of the batch loss in
    /// each input.
    @Test(arguments: [Loss.softmaxCrossEntropy, .squaredError])
    func theInputGradientMatchesFiniteDifferences(loss: Loss) {
        let outputs = loss == .squaredError ? 1 : 3
        let network = DenseNetwork(widths: [5, 4, outputs], activations: [.tanh, .identity], loss: loss)
        let count = 4
        var random = Xoshiro256StarStar(seed: 31, stream: 5)
        let theta = network.initialParameters(seed: 6).map { $0 * 1.2 }
        let inputs = (0..<(count * 5)).map { _ in 2 * random.nextUnitInterval() - 1 }
        let labels = (0..<count).map { $0 % outputs }
        let targets = (0..<count).map { Double($0) / 3 - 0.5 }
        let workspace = NetworkWorkspace(network: network, capacity: count)
        func batchLoss(_ x: [Double]) -> Double {
            theta.withUnsafeBufferPointer { p in
                x.withUnsafeBufferPointer { x in
                    labels.withUnsafeBufferPointer { l in
                        targets.withUnsafeBufferPointer { t in
                            network.loss(
                                parameters: p, batch: network.batch(inputs: x, labels: l, targets: t, count: count),
                                workspace: workspace)
                        }
                    }
                }
            }
        }
        var gradient = [Double](repeating: 0, count: network.parameterCount)
        var inputGradient = [Double](repeating: 0, count: count * 5)
        theta.withUnsafeBufferPointer { p in
            inputs.withUnsafeBufferPointer { x in
                labels.withUnsafeBufferPointer { l in
                    targets.withUnsafeBufferPointer { t in
                        gradient.withUnsafeMutableBufferPointer { g in
                            inputGradient.withUnsafeMutableBufferPointer { gx in
                                _ = network.lossAndGradient(
                                    parameters: p, batch: network.batch(inputs: x, labels: l, targets: t, count: count),
                                    workspace: workspace, gradient: g, inputGradient: gx)
                            }
                        }
                    }
                }
            }
        }
        let h = 1e-6
        for index in inputs.indices {
            var plus = inputs
            var minus = inputs
            plus[index] += h
            minus[index] -= h
            let numeric = (batchLoss(plus) - batchLoss(minus)) / (2 * h)
            #expect(abs(inputGradient[index] - numeric) < 1e-7, "input \(index): \(inputGradient[index]) against \(numeric)")
        }
    }
}
