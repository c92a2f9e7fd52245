import Foundation
import NeuralNet
import Testing

@Suite struct DenseNetworkTests {
    /// A small random batch: `count` inputs of `width`, labels or targets.
    func batchData(count: Int, width: Int, outputs: Int, seed: Int) -> (
        inputs: [Double], labels: [Int], targets: [Double]
    ) {
        var state = UInt64(seed)
        func next() -> Double {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(state >> 11) / Double(1 << 53) * 2 - 1
        }
        let inputs = (0..<(count * width)).map { _ in next() }
        let labels = (0..<count).map { _ in Int((next() + 1) / 2 * Double(outputs)) % outputs }
        let targets = (0..<(count * outputs)).map { _ in next() }
        return (inputs, labels, targets)
    }

    @Test(
        arguments: [
            (Activation.tanh, Loss.softmaxCrossEntropy), (.relu, .softmaxCrossEntropy), (.tanh, .squaredError),
            (.identity, .squaredError),
        ], [MatrixKernels.blas, .handWritten])
    func backpropMatchesCentralFiniteDifferences(pair: (Activation, Loss), kernels: MatrixKernels) {
        let (activation, loss) = pair
        var network = DenseNetwork(widths: [6, 5, 4, 3], activations: [activation, activation, .identity], loss: loss)
        network.kernels = kernels
        let parameters = network.initialParameters(seed: 3).map { $0 + 0.01 }  // no relu exactly at 0
        let data = batchData(count: 7, width: 6, outputs: 3, seed: 11)
        let workspace = NetworkWorkspace(network: network, capacity: 7)
        var gradient = [Double](repeating: 0, count: network.parameterCount)
        data.inputs.withUnsafeBufferPointer { inputs in
            data.labels.withUnsafeBufferPointer { labels in
                data.targets.withUnsafeBufferPointer { targets in
                    let batch = network.batch(inputs: inputs, labels: labels, targets: targets, count: 7)
                    _ = parameters.withUnsafeBufferPointer { p in
                        gradient.withUnsafeMutableBufferPointer { g in
                            network.lossAndGradient(parameters: p, batch: batch, workspace: workspace, gradient: g)
                        }
                    }
                    // Central differences: truncation h²·f'''/6 ≈ 1e-12, rounding ε·|f|/h ≈ 1e-11;
                    // 1e-7 absolute leaves room for both (gradients are ~1e-2…1).
                    let h = 1e-5
                    for index in 0..<network.parameterCount {
                        var plus = parameters
                        var minus = parameters
                        plus[index] += h
                        minus[index] -= h
                        let up = plus.withUnsafeBufferPointer {
                            network.loss(parameters: $0, batch: batch, workspace: workspace)
                        }
                        let down = minus.withUnsafeBufferPointer {
                            network.loss(parameters: $0, batch: batch, workspace: workspace)
                        }
                        let numeric = (up - down) / (2 * h)
                        #expect(
                            abs(numeric - gradient[index]) < 1e-7,
                            "parameter \(index): \(numeric) vs \(gradient[index])")
                    }
                }
            }
        }
    }

    @Test func bothKernelsComputeTheSameOutputs() {
        var network = DenseNetwork(widths: [64, 40, 10], activations: [.tanh, .identity], loss: .softmaxCrossEntropy)
        let parameters = network.initialParameters(seed: 5)
        let data = batchData(count: 33, width: 64, outputs: 10, seed: 2)
        var outputs: [[Double]] = []
        for kernels in [MatrixKernels.blas, .handWritten] {
            network.kernels = kernels
            let workspace = NetworkWorkspace(network: network, capacity: 33)
            data.inputs.withUnsafeBufferPointer { x in
                parameters.withUnsafeBufferPointer { p in
                    network.forward(parameters: p, inputs: x, count: 33, workspace: workspace)
                }
            }
            outputs.append(Array(workspace.outputs(count: 33)))
        }
        // Different summation orders: agreement to rounding (sums of 64 terms of size ~1).
        #expect(zip(outputs[0], outputs[1]).allSatisfy { abs($0 - $1) < 1e-12 })
    }

    @Test func fanInInitializationDrawsWeightsAndBiasesUniformWithinOneOverRootFanIn() {
        let network = DenseNetwork(
            widths: [40, 100, 100, 10], activations: [.tanh, .tanh, .identity], loss: .softmaxCrossEntropy)
        let parameters = network.initialParameters(seed: 3, initialization: .fanIn)
        for (layer, range) in network.layerRanges.enumerated() {
            let bound = 1 / Double(network.widths[layer]).squareRoot()
            let values = parameters[range]
            #expect(values.allSatisfy { abs($0) <= bound })
            // U(±b) has mean square b²/3; over ≥ 1,010 draws the sample's is within 20 % of it
            // (its relative spread is about 3 %), so a wrong bound (Glorot's is 1.3–2.2× this) fails.
            let meanSquare = values.reduce(0) { $0 + $1 * $1 } / Double(values.count)
            #expect(abs(meanSquare / (bound * bound / 3) - 1) < 0.2, "layer \(layer): \(meanSquare)")
            #expect(parameters[network.biasOffsets[layer]..<range.upperBound].allSatisfy { $0 != 0 })
        }
        let glorot = network.initialParameters(seed: 3)
        #expect(glorot[network.biasOffsets[0]..<network.layerRanges[0].upperBound].allSatisfy { $0 == 0 })
    }

    @Test func rowChunksOnWorkerThreadsGiveTheSameLossAndOutputs() {
        let network = DenseNetwork(widths: [64, 40, 10], activations: [.tanh, .identity], loss: .softmaxCrossEntropy)
        let parameters = network.initialParameters(seed: 7)
        let count = 301  // not a multiple of the chunk count
        let data = batchData(count: count, width: 64, outputs: 10, seed: 4)
        var results: [(loss: Double, outputs: [Double])] = []
        for (chunks, threads) in [(1, 1), (2, 2), (3, 3), (3, 1)] {
            let workspace = NetworkWorkspace(network: network, capacity: count, chunks: chunks, threads: threads)
            let loss = data.inputs.withUnsafeBufferPointer { x in
                data.labels.withUnsafeBufferPointer { y in
                    parameters.withUnsafeBufferPointer { p in
                        // Repeated: the workers sleep and wake between calls, and must not mix them up.
                        (0..<50).map { _ in
                            network.loss(
                                parameters: p, batch: Batch(inputs: x, labels: y, count: count),
                                workspace: workspace)
                        }
                    }
                }
            }
            #expect(Set(loss).count == 1, "the same call must give the same loss")
            results.append((loss[0], Array(workspace.outputs(count: count))))
        }
        // Different chunk heights are different GEMM calls, and OpenBLAS picks its kernel (and so
        // the summation order within a row) by shape and CPU: on SKYLAKEX a 301-row call and a
        // 100-row call round differently. What holds for every kernel: rows agree to rounding
        // (dot products of 64 and 40 terms of size ~1: a few ulps, well under 1e-12).
        for result in results {
            #expect(zip(result.outputs, results[0].outputs).allSatisfy { abs($0 - $1) < 1e-12 })
            #expect(abs(result.loss - results[0].loss) < 1e-12 * results[0].loss)
        }
        // Same chunks on one thread or three: the same calls, bit for bit the same.
        #expect(results[2].outputs == results[3].outputs)
        #expect(results[2].loss == results[3].loss)
    }

    @Test(arguments: [Loss.softmaxCrossEntropy, .squaredError])
    func singlePrecisionForwardAgreesWithDoubleToFloatRounding(loss: Loss) {
        var network = DenseNetwork(widths: [64, 40, 10], activations: [.tanh, .identity], loss: loss)
        let parameters = network.initialParameters(seed: 9).map { $0 * 1.5 }
        let count = 200
        let data = batchData(count: count, width: 64, outputs: 10, seed: 8)
        let singleInputs = data.inputs.map { Float($0) }
        var results: [(loss: Double, outputs: [Double])] = []
        for (kernels, provideSingle) in [(MatrixKernels.blas, false), (.blasSingle, false), (.blasSingle, true)] {
            network.kernels = kernels
            let workspace = NetworkWorkspace(network: network, capacity: count, chunks: 2)
            let value = data.inputs.withUnsafeBufferPointer { x in
                data.labels.withUnsafeBufferPointer { y in
                    data.targets.withUnsafeBufferPointer { t in
                        singleInputs.withUnsafeBufferPointer { single in
                            parameters.withUnsafeBufferPointer { p in
                                var batch = network.batch(inputs: x, labels: y, targets: t, count: count)
                                batch.singleInputs = provideSingle ? single : nil
                                return network.loss(parameters: p, batch: batch, workspace: workspace)
                            }
                        }
                    }
                }
            }
            results.append((value, Array(workspace.outputs(count: count))))
        }
        // Logits are sums of ~40 terms of size ~1 rounded to float (6e-8 each): 1e-5 is ample,
        // and far below what separates two parameter vectors σ = 1e-3 apart.
        for result in results.dropFirst() {
            #expect(abs(result.loss - results[0].loss) < 1e-5 * max(results[0].loss, 1))
            #expect(zip(result.outputs, results[0].outputs).allSatisfy { abs($0 - $1) < 1e-5 })
        }
        // Converting the inputs inside the pass or beforehand is the same computation.
        #expect(results[1].loss == results[2].loss)
    }

    /// The plain-loop kernels are the oracle: BLAS's gradient agrees with theirs to rounding;
    /// single precision has no backward pass (backprop asks for `.blas`, never silently).
    @Test func blasGradientsAgreeWithTheReferenceKernels() {
        #expect(MatrixKernels.blas.differentiates && MatrixKernels.handWritten.differentiates)
        #expect(!MatrixKernels.blasSingle.differentiates)
        var network = DenseNetwork(widths: [6, 5, 3], activations: [.tanh, .identity], loss: .softmaxCrossEntropy)
        let parameters = network.initialParameters(seed: 2)
        let data = batchData(count: 9, width: 6, outputs: 3, seed: 5)
        var gradients: [[Double]] = []
        for kernels in [MatrixKernels.blas, .handWritten] {
            network.kernels = kernels
            let workspace = NetworkWorkspace(network: network, capacity: 9)
            var gradient = [Double](repeating: 0, count: network.parameterCount)
            data.inputs.withUnsafeBufferPointer { x in
                data.labels.withUnsafeBufferPointer { y in
                    parameters.withUnsafeBufferPointer { p in
                        gradient.withUnsafeMutableBufferPointer { g in
                            _ = network.lossAndGradient(
                                parameters: p, batch: Batch(inputs: x, labels: y, count: 9),
                                workspace: workspace, gradient: g)
                        }
                    }
                }
            }
            gradients.append(gradient)
        }
        for (blas, reference) in zip(gradients[0], gradients[1]) {
            #expect(abs(blas - reference) <= 1e-12 * max(1, abs(reference)))
        }
        #expect(gradients[0].contains { $0 != 0 })
    }

    @Test func crossEntropyOfUniformOutputsIsLogOfTheClassCount() {
        // All-zero parameters give zero logits: softmax is uniform and the loss is ln 10.
        let network = DenseNetwork(widths: [4, 10], activations: [.identity], loss: .softmaxCrossEntropy)
        let parameters = [Double](repeating: 0, count: network.parameterCount)
        let inputs: [Double] = [1, 2, 3, 4, 5, 6, 7, 8]
        let labels = [3, 7]
        let workspace = NetworkWorkspace(network: network, capacity: 2)
        let value = inputs.withUnsafeBufferPointer { x in
            labels.withUnsafeBufferPointer { y in
                parameters.withUnsafeBufferPointer { p in
                    network.loss(
                        parameters: p, batch: Batch(inputs: x, labels: y, count: 2), workspace: workspace)
                }
            }
        }
        #expect(abs(value - log(10)) < 1e-12)
    }

    @Test func theParameterLayoutIsWThenBPerLayer() {
        let network = DenseNetwork(widths: [64, 40, 10], activations: [.tanh, .identity], loss: .softmaxCrossEntropy)
        #expect(network.parameterCount == 64 * 40 + 40 + 40 * 10 + 10)
        #expect(network.layerRanges == [0..<2600, 2600..<3010])
        let parameters = network.initialParameters(seed: 1)
        #expect(parameters[2560..<2600].allSatisfy { $0 == 0 })  // first layer's biases
        let limit = (6.0 / 104).squareRoot()
        #expect(parameters[0..<2560].allSatisfy { abs($0) <= limit })
    }
}
