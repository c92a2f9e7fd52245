import FastMath
import Foundation
import RealModule
import SeededRandom

extension DenseNetwork {
    /// Runs the batch forward and returns the mean loss. Activations stay in `workspace`.
    ///
    /// Layer l: a_{l+1} = f_l(W_l·a_l + b_l). Large batches run in the workspace's row chunks,
    /// concurrently; the mean sums the chunks' partial sums in chunk order.
    public func loss(
        parameters: UnsafeBufferPointer<Double>, batch: Batch, workspace: NetworkWorkspace
    ) -> Double {
        checkForward(parameters: parameters, inputs: batch.inputs, count: batch.count, workspace: workspace)
        let partial = workspace.partialLosses
        let implementation = kernels.implementation
        workspace.forEachChunk(count: batch.count) { chunk, rows in
            implementation.forward(
                self, parameters: parameters, inputs: batch.inputs, singleInputs: batch.singleInputs, rows: rows,
                workspace: workspace)
            partial[chunk] = implementation.lossSum(self, batch: batch, rows: rows, workspace: workspace)
        }
        var total = 0.0
        for chunk in 0..<workspace.rowChunks(count: batch.count) { total += partial[chunk] }
        return total / Double(batch.count)
    }

    /// The forward pass alone (predictions go to `workspace.outputs`).
    public func forward(
        parameters: UnsafeBufferPointer<Double>, inputs: UnsafeBufferPointer<Double>, count: Int,
        workspace: NetworkWorkspace
    ) {
        checkForward(parameters: parameters, inputs: inputs, count: count, workspace: workspace)
        let implementation = kernels.implementation
        workspace.forEachChunk(count: count) { _, rows in
            implementation.forward(
                self, parameters: parameters, inputs: inputs, singleInputs: nil, rows: rows, workspace: workspace)
        }
    }

    private func checkForward(
        parameters: UnsafeBufferPointer<Double>, inputs: UnsafeBufferPointer<Double>, count: Int,
        workspace: NetworkWorkspace
    ) {
        precondition(count <= workspace.capacity && parameters.count == parameterCount)
        precondition(inputs.count >= count * widths[0])
        if kernels == .blasSingle {
            precondition(workspace.singleParameters.count == parameterCount, "a workspace made for these kernels")
            for index in 0..<parameterCount { workspace.singleParameters[index] = Float(parameters[index]) }
        }
    }

    /// The mean loss of the outputs in `workspace`; with `writeDelta`, also ∂L/∂z of the last
    /// layer's pre-activations into the last delta buffer (softmax − one-hot, or z − t, over n).
    func outputLoss(batch: Batch, workspace: NetworkWorkspace, writeDelta: Bool) -> Double {
        outputLossSum(batch: batch, rows: 0..<batch.count, workspace: workspace, writeDelta: writeDelta)
            / Double(batch.count)
    }

    /// The summed loss of the samples in `rows` (deltas, when written, are already over n).
    func outputLossSum(batch: Batch, rows: Range<Int>, workspace: NetworkWorkspace, writeDelta: Bool) -> Double {
        let width = widths.last!
        let outputs = workspace.activations[widths.count - 1]
        let delta = workspace.deltas[widths.count - 1]
        let scale = 1 / Double(batch.count)
        var total = 0.0
        switch loss {
        case .softmaxCrossEntropy:
            let labels = batch.labels(for: loss)
            let exp = FastExp()
            for sample in rows {
                let z = outputs.baseAddress! + sample * width
                var largest = -Double.infinity
                for j in 0..<width { largest = max(largest, z[j]) }
                var sum = 0.0
                for j in 0..<width { sum += exp(z[j] - largest) }
                let logSum = Double.log(sum) + largest
                total += logSum - z[labels[sample]]
                if writeDelta {
                    for j in 0..<width {
                        let probability = exp(z[j] - logSum)
                        delta[sample * width + j] = (probability - (j == labels[sample] ? 1 : 0)) * scale
                    }
                }
            }
        case .squaredError:
            let targets = batch.values(for: loss)
            for index in (rows.lowerBound * width)..<(rows.upperBound * width) {
                let error = outputs[index] - targets[index]
                total += 0.5 * error * error
                if writeDelta { delta[index] = error * scale }
            }
        }
        return total
    }

    /// Σ −log softmax(z)_y over `rows` from the single-precision logits, four classes per
    /// vector: log Σ_j e^{z_j} = m + log Σ_j e^{z_j − m}, m = max_j z_j (no overflow); lanes past
    /// the last class hold −87, whose e^{−87} ≈ 1.6e-38 adds nothing. The sum is in double.
    func crossEntropySumSingle(batch: Batch, rows: Range<Int>, workspace: NetworkWorkspace) -> Double {
        let width = widths.last!
        let logits = workspace.singleActivations[widths.count - 1].baseAddress!
        let labels = batch.labels(for: loss)
        let floor = SIMD4<Float>(repeating: -87)
        var total = 0.0
        for sample in rows {
            let z = logits + sample * width
            var largest = z[0]
            for j in 1..<width { largest = max(largest, z[j]) }
            var sums = SIMD4<Float>.zero
            var j = 0
            while j < width {
                var lanes = floor
                for lane in 0..<min(4, width - j) { lanes[lane] = z[j + lane] - largest }
                lanes.replace(with: floor, where: lanes .< floor)
                sums += vectorExp(lanes)
                j += 4
            }
            total += Double.log(Double(sums.sum())) + Double(largest) - Double(z[labels[sample]])
        }
        return total
    }

    /// The mean loss and its exact gradient (backpropagation) into `gradient`.
    ///
    /// δ_L = ∂L/∂z_L (from the loss, the last activation must be identity); for earlier layers
    /// δ_l = (W_lᵀ·δ_{l+1}) ⊙ f'_l; ∂L/∂W_l = δ_{l+1}·a_lᵀ, ∂L/∂b_l = Σ δ_{l+1}.
    /// With `inputGradient`, ∂L/∂x (count × input width) is written there too, for a layer
    /// upstream of the network.
    public func lossAndGradient(
        parameters: UnsafeBufferPointer<Double>, batch: Batch, workspace: NetworkWorkspace,
        gradient: UnsafeMutableBufferPointer<Double>, inputGradient: UnsafeMutableBufferPointer<Double>? = nil
    ) -> Double {
        precondition(activations.last == .identity, "the loss supplies the output nonlinearity")
        let implementation = kernels.implementation
        precondition(implementation.differentiates, "\(kernels) kernels have no backward pass: backprop runs on .blas")
        forward(parameters: parameters, inputs: batch.inputs, count: batch.count, workspace: workspace)
        let value = outputLoss(batch: batch, workspace: workspace, writeDelta: true)
        backward(
            parameters: parameters, inputs: batch.inputs, count: batch.count, workspace: workspace, gradient: gradient,
            inputGradient: inputGradient)
        return value
    }

    /// The chain rule through the network for a gradient given at its outputs: with
    /// `outputGradient` = ∂L/∂y (count × output width, y the last layer's outputs, whose
    /// activation must be identity), writes ∂L/∂θ into `gradient`. For a black box downstream
    /// whose ∂L/∂y was estimated from its forward passes (drive-space perturbation).
    public func gradient(
        parameters: UnsafeBufferPointer<Double>, inputs: UnsafeBufferPointer<Double>, count: Int,
        outputGradient: UnsafeBufferPointer<Double>, workspace: NetworkWorkspace,
        gradient: UnsafeMutableBufferPointer<Double>
    ) {
        precondition(activations.last == .identity, "the output gradient is taken before an identity activation")
        precondition(kernels.implementation.differentiates, "\(kernels) kernels have no backward pass")
        precondition(outputGradient.count == count * widths[widths.count - 1])
        forward(parameters: parameters, inputs: inputs, count: count, workspace: workspace)
        let delta = workspace.deltas[widths.count - 1]
        for index in outputGradient.indices { delta[index] = outputGradient[index] }
        backward(parameters: parameters, inputs: inputs, count: count, workspace: workspace, gradient: gradient)
    }

    /// Back-propagates the deltas of the last layer (in `workspace.deltas`) into `gradient`.
    private func backward(
        parameters: UnsafeBufferPointer<Double>, inputs: UnsafeBufferPointer<Double>, count: Int,
        workspace: NetworkWorkspace, gradient: UnsafeMutableBufferPointer<Double>,
        inputGradient: UnsafeMutableBufferPointer<Double>? = nil
    ) {
        if let inputGradient { precondition(inputGradient.count >= count * widths[0]) }
        let implementation = kernels.implementation
        let batch = (inputs: inputs, count: count)
        for index in gradient.indices { gradient[index] = 0 }
        for layer in stride(from: widths.count - 2, through: 0, by: -1) {
            let inWidth = widths[layer]
            let outWidth = widths[layer + 1]
            let input = layer == 0 ? UnsafeMutableBufferPointer(mutating: batch.inputs) : workspace.activations[layer]
            let delta = workspace.deltas[layer + 1]
            let weights = parameters.baseAddress! + weightOffsets[layer]
            let weightGradient = gradient.baseAddress! + weightOffsets[layer]
            let biasGradient = gradient.baseAddress! + biasOffsets[layer]
            for sample in 0..<batch.count {
                let d = delta.baseAddress! + sample * outWidth
                for unit in 0..<outWidth { biasGradient[unit] += d[unit] }
            }
            let previousDelta = workspace.deltas[layer]
            implementation.backward(
                count: batch.count, inWidth: inWidth, outWidth: outWidth, delta: delta.baseAddress!,
                input: input.baseAddress!, weights: weights, weightGradient: weightGradient,
                previousDelta: layer > 0 ? previousDelta.baseAddress! : inputGradient?.baseAddress)
            guard layer > 0 else { break }
            let previousActivation = activations[layer - 1]
            for sample in 0..<batch.count {
                let a = input.baseAddress! + sample * inWidth
                let p = previousDelta.baseAddress! + sample * inWidth
                for i in 0..<inWidth { p[i] *= previousActivation.derivative(output: a[i]) }
            }
        }
    }

    /// Predicted classes of the outputs in `workspace` (argmax per sample).
    public func predictedClasses(workspace: NetworkWorkspace, count: Int) -> [Int] {
        let width = widths.last!
        let outputs = workspace.outputs(count: count)
        return (0..<count).map { sample in
            var best = 0
            for j in 1..<width where outputs[sample * width + j] > outputs[sample * width + best] { best = j }
            return best
        }
    }
}
