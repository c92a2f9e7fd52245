import Foundation
import NeuralNet
import SeededRandom
import Testing

/// The transformer's backward passes against central finite differences of its loss, layer by
/// layer (every parameter of every slice, which also checks each layer's input gradient: the
/// embedding's parameters are reached only through every sublayer's), and the reservoir's
/// gradient strategies against the exact vector-Jacobian product.
@Suite struct TransformerGradientTests {
    static func smallShape(blocks: Int, reservoirBlock: Int?) -> TransformerShape {
        var shape = TransformerShape()
        shape.tokens = 5
        shape.patch = 3
        shape.width = 8
        shape.heads = 2
        shape.blocks = blocks
        shape.feedForward = 12
        shape.classes = 4
        shape.reservoirBlock = reservoirBlock
        return shape
    }

    static func data(_ shape: TransformerShape, samples: Int, seed: UInt64) -> (inputs: [Double], labels: [Int]) {
        var random = GaussianSource(seed: seed, stream: 9)
        let inputs = (0..<(samples * shape.signalLength)).map { _ in random.next() }
        let labels = (0..<samples).map { $0 % shape.classes }
        return (inputs, labels)
    }

    /// θ moved off its initialization (unit gains, zero biases are too symmetric a point).
    static func parameters(_ network: TransformerNetwork, seed: UInt64) -> [Double] {
        var random = GaussianSource(seed: seed, stream: 10)
        return network.initialParameters(seed: seed).map { $0 + 0.2 * random.next() }
    }

    /// The largest |analytic − numeric| / max(1e-3, |numeric|) over the slice's parameters.
    static func worstError(
        _ network: TransformerNetwork, parameters: [Double], inputs: [Double], labels: [Int], samples: Int,
        range: Range<Int>
    ) throws -> Double {
        var gradient = [Double](repeating: 0, count: network.parameterCount)
        try inputs.withUnsafeBufferPointer { x in
            try labels.withUnsafeBufferPointer { y in
                try parameters.withUnsafeBufferPointer { p in
                    _ = try network.forward(p, inputs: x.baseAddress!, labels: y.baseAddress!, samples: samples, training: true)
                    gradient.withUnsafeMutableBufferPointer { network.backward(p, gradient: $0) }
                }
            }
        }
        func loss(_ theta: [Double]) throws -> Double {
            try inputs.withUnsafeBufferPointer { x in
                try labels.withUnsafeBufferPointer { y in
                    try theta.withUnsafeBufferPointer { p in
                        try network.forward(p, inputs: x.baseAddress!, labels: y.baseAddress!, samples: samples, training: false)
                    }
                }
            }
        }
        var worst = 0.0
        let h = 1e-5
        for index in range {
            var plus = parameters
            plus[index] += h
            var minus = parameters
            minus[index] -= h
            let numeric = (try loss(plus) - loss(minus)) / (2 * h)
            worst = max(worst, abs(gradient[index] - numeric) / max(1e-3, abs(numeric)))
        }
        return worst
    }

    @Test(arguments: [1, 2])
    func everyLayersBackwardMatchesCentralDifferences(blocks: Int) throws {
        let shape = Self.smallShape(blocks: blocks, reservoirBlock: nil)
        let network = TransformerNetwork(shape: shape, reservoir: nil, capacity: 3)
        let theta = Self.parameters(network, seed: 5)
        let (inputs, labels) = Self.data(shape, samples: 3, seed: 6)
        let slices = [("embedding", network.embeddingSlice)] + network.sublayerSlices.enumerated().map {
            ($0.offset % 2 == 0 ? "attention \($0.offset / 2)" : "feed-forward \($0.offset / 2)", $0.element)
        } + [("head", network.headSlice)]
        for (name, slice) in slices {
            let error = try Self.worstError(
                network, parameters: theta, inputs: inputs, labels: labels, samples: 3, range: slice.range)
            #expect(error < 1e-5, "\(name): relative error \(error)")
        }
    }

    @Test func backpropThroughTheDigitalReservoirMatchesCentralDifferences() throws {
        let shape = Self.smallShape(blocks: 2, reservoirBlock: 0)
        let reservoir = DigitalReservoir(width: shape.width, expansion: 16, seed: 4, capacity: 15)
        let network = TransformerNetwork(shape: shape, reservoir: reservoir, capacity: 3)
        network.reservoirSublayer?.gradient = ExactReservoirGradient()
        let theta = Self.parameters(network, seed: 7)
        let (inputs, labels) = Self.data(shape, samples: 3, seed: 8)
        let error = try Self.worstError(
            network, parameters: theta, inputs: inputs, labels: labels, samples: 3, range: 0..<network.parameterCount)
        #expect(error < 1e-5, "relative error \(error)")
        #expect(network.upstreamRange == 0..<(network.sublayerSlices[1].offset + network.sublayerSlices[1].count))
    }

    @Test func aFrozenReservoirStopsTheGradientAndLeavesUpstreamAtZero() throws {
        let shape = Self.smallShape(blocks: 2, reservoirBlock: 0)
        let reservoir = DigitalReservoir(width: shape.width, expansion: 16, seed: 4, capacity: 15)
        let network = TransformerNetwork(shape: shape, reservoir: reservoir, capacity: 3)
        let theta = Self.parameters(network, seed: 7)
        let (inputs, labels) = Self.data(shape, samples: 3, seed: 8)
        var gradient = [Double](repeating: 1, count: network.parameterCount)
        try inputs.withUnsafeBufferPointer { x in
            try labels.withUnsafeBufferPointer { y in
                try theta.withUnsafeBufferPointer { p in
                    _ = try network.forward(p, inputs: x.baseAddress!, labels: y.baseAddress!, samples: 3, training: true)
                    gradient.withUnsafeMutableBufferPointer { network.backward(p, gradient: $0) }
                }
            }
        }
        #expect(gradient[network.upstreamRange].allSatisfy { $0 == 0 })
        #expect(gradient[network.upstreamRange.upperBound...].contains { $0 != 0 })
    }

    /// E[c z] over Rademacher z is J_Rᵀ g (up to O(σ²)): the mean of many estimates approaches
    /// the exact vector-Jacobian product, with the spread 1/√n predicts.
    @Test func thePerturbativeEstimateIsUnbiasedForTheExactVectorJacobianProduct() throws {
        let width = 6, rows = 4
        let reservoir = DigitalReservoir(width: width, expansion: 20, seed: 2, capacity: 2 * rows)
        var random = GaussianSource(seed: 3, stream: 1)
        let u = (0..<(rows * width)).map { _ in random.next() }
        let g = (0..<(rows * width)).map { _ in random.next() }
        var exact = [Double](repeating: 0, count: rows * width)
        var outputs = exact
        try u.withUnsafeBufferPointer { input in
            try outputs.withUnsafeMutableBufferPointer { try ExactReservoirGradient().forward(reservoir, inputs: input, rows: rows, into: $0) }
            g.withUnsafeBufferPointer { dF in
                exact.withUnsafeMutableBufferPointer { ExactReservoirGradient().backward(reservoir, outputGradient: dF, rows: rows, into: $0) }
            }
        }
        let mean = outputs
        let estimator = PerturbativeReservoirGradient(sigma: 1e-3, seed: 9)
        let draws = 20_000
        var sum = [Double](repeating: 0, count: rows * width)
        var estimate = sum
        for _ in 0..<draws {
            try u.withUnsafeBufferPointer { input in
                try outputs.withUnsafeMutableBufferPointer { try estimator.forward(reservoir, inputs: input, rows: rows, into: $0) }
                g.withUnsafeBufferPointer { dF in
                    estimate.withUnsafeMutableBufferPointer { estimator.backward(reservoir, outputGradient: dF, rows: rows, into: $0) }
                }
            }
            for index in sum.indices { sum[index] += estimate[index] }
        }
        // The pair's mean is F(u) to O(σ²).
        for index in mean.indices { #expect(abs(outputs[index] - mean[index]) < 1e-5) }
        let norm = exact.map { $0 * $0 }.reduce(0, +).squareRoot()
        for index in sum.indices {
            let average = sum[index] / Double(draws)
            // One draw's spread per component is at most ‖J_Rᵀg‖ (row-wise); 6/√n of it.
            #expect(abs(average - exact[index]) < 6 * norm / Double(draws).squareRoot(), "component \(index)")
        }
        // And not trivially: the estimate is not the exact value draw by draw.
        #expect(zip(estimate, exact).contains { abs($0 - $1) > 1e-3 })
    }
}
