import Foundation
import SeededRandom

/// The transformer's dimensions (docs/transformer.md): signals of T·P samples as T tokens of P,
/// width d, h heads, `blocks` pre-LN blocks (attention, then a feed-forward sublayer d → H → d
/// or, in block `reservoirBlock`, a reservoir), a final layer norm, mean pooling and a linear
/// softmax readout.
public struct TransformerShape: Sendable, Codable, Equatable {
    public var tokens = 10
    public var patch = 4
    public var width = 32
    public var heads = 4
    public var blocks = 1
    public var feedForward = 64
    public var classes = 10
    /// The block (0-based) whose feed-forward sublayer is the reservoir; nil: none.
    public var reservoirBlock: Int? = 0

    public init() {}

    public var signalLength: Int { tokens * patch }
}

/// A transformer over token streams, its parameters one flat vector θ (stage after stage: the
/// embedding, each block's sublayers, the head). A training step is `forward(training: true)`
/// then `backward`; what crosses the reservoir is its sublayer's `ReservoirGradient`, and with
/// none, the backward pass stops there: everything upstream stays as it is (`upstreamRange`).
public final class TransformerNetwork {
    public let shape: TransformerShape
    /// The largest batch a forward pass takes (measurements run in chunks of it).
    public let capacity: Int
    let embedding: PatchEmbedding
    let sublayers: [ResidualSublayer]
    let head: PoolingHead
    /// θ's slices: the embedding, each sublayer, the head.
    public let embeddingSlice: ParameterSlice
    public let sublayerSlices: [ParameterSlice]
    public let headSlice: ParameterSlice
    public let reservoirSublayer: ReservoirSublayer?
    private var stream: [Double]
    private var inputs: UnsafePointer<Double>?
    private var labels: UnsafePointer<Int>?
    private var samples = 0

    /// A network of `shape` whose reservoir (if the shape places one) is `reservoir`.
    public init(shape: TransformerShape, reservoir: (any ReservoirLayer)?, capacity: Int) {
        precondition((shape.reservoirBlock == nil) == (reservoir == nil), "a reservoir block needs a reservoir")
        self.shape = shape
        self.capacity = capacity
        let t = shape.tokens, d = shape.width
        embedding = PatchEmbedding(tokens: t, patch: shape.patch, width: d)
        var sublayers: [ResidualSublayer] = []
        var reservoirSublayer: ReservoirSublayer?
        for block in 0..<shape.blocks {
            sublayers.append(AttentionSublayer(tokens: t, width: d, heads: shape.heads, capacity: capacity))
            if block == shape.reservoirBlock, let reservoir {
                let sublayer = ReservoirSublayer(tokens: t, width: d, reservoir: reservoir, capacity: capacity)
                reservoirSublayer = sublayer
                sublayers.append(sublayer)
            } else {
                sublayers.append(FeedForwardSublayer(tokens: t, width: d, hidden: shape.feedForward, capacity: capacity))
            }
        }
        self.sublayers = sublayers
        self.reservoirSublayer = reservoirSublayer
        head = PoolingHead(tokens: t, width: d, classes: shape.classes, capacity: capacity)
        embeddingSlice = ParameterSlice(offset: 0, count: embedding.parameterCount)
        var offset = embedding.parameterCount
        var slices: [ParameterSlice] = []
        for sublayer in sublayers {
            slices.append(ParameterSlice(offset: offset, count: sublayer.parameterCount))
            offset += sublayer.parameterCount
        }
        sublayerSlices = slices
        headSlice = ParameterSlice(offset: offset, count: head.parameterCount)
        stream = [Double](repeating: 0, count: capacity * t * d)
    }

    public var parameterCount: Int { headSlice.offset + headSlice.count }

    /// θ up to and including the reservoir sublayer's layer norm: what only a gradient that
    /// crosses the reservoir can train (empty without a reservoir).
    public var upstreamRange: Range<Int> {
        guard let reservoirSublayer, let index = sublayers.firstIndex(where: { $0 === reservoirSublayer }) else {
            return 0..<0
        }
        return 0..<(sublayerSlices[index].offset + sublayerSlices[index].count)
    }

    /// θ's weight matrices (embedding, attention, feed-forward, readout): what weight decay
    /// shrinks; layer norms' gains and shifts, biases and position embeddings are left alone.
    public var weightRanges: [Range<Int>] {
        func shifted(_ ranges: [Range<Int>], by offset: Int) -> [Range<Int>] {
            ranges.map { ($0.lowerBound + offset)..<($0.upperBound + offset) }
        }
        var ranges = shifted(embedding.weightRanges, by: embeddingSlice.offset)
        for (sublayer, slice) in zip(sublayers, sublayerSlices) { ranges += shifted(sublayer.weightRanges, by: slice.offset) }
        return ranges + shifted(head.weightRanges, by: headSlice.offset)
    }

    /// Seeded initial θ: PyTorch's module defaults (`TokenMath.fillUniform`), unit layer-norm gains.
    public func initialParameters(seed: UInt64) -> [Double] {
        var parameters = [Double](repeating: 0, count: parameterCount)
        var random = Xoshiro256StarStar(seed: seed, stream: 4_000)
        var gaussian = GaussianSource(seed: seed, stream: 4_001)
        parameters.withUnsafeMutableBufferPointer { p in
            embedding.initialize(UnsafeMutableBufferPointer(rebasing: p[embeddingSlice.range]), random: &gaussian)
            for (sublayer, slice) in zip(sublayers, sublayerSlices) {
                sublayer.initialize(UnsafeMutableBufferPointer(rebasing: p[slice.range]), random: &random)
            }
            head.initialize(UnsafeMutableBufferPointer(rebasing: p[headSlice.range]), random: &random)
        }
        return parameters
    }

    /// The mean loss of `samples` signals (samples × T·P) with `labels`, keeping what the
    /// backward pass needs. `training`: the reservoir is evaluated as its gradient strategy says.
    public func forward(
        _ parameters: UnsafeBufferPointer<Double>, inputs: UnsafePointer<Double>, labels: UnsafePointer<Int>, samples: Int,
        training: Bool
    ) throws -> Double {
        precondition(samples <= capacity && parameters.count == parameterCount)
        self.inputs = inputs
        self.labels = labels
        self.samples = samples
        let p = parameters.baseAddress!
        return try stream.withUnsafeMutableBufferPointer { h in
            embedding.forward(p + embeddingSlice.offset, inputs, samples: samples, into: h.baseAddress!)
            for (sublayer, slice) in zip(sublayers, sublayerSlices) {
                try sublayer.forward(p + slice.offset, stream: h.baseAddress!, samples: samples, training: training)
            }
            return head.forward(p + headSlice.offset, stream: h.baseAddress!, labels: labels, samples: samples)
        }
    }

    /// The gradient of the last `forward`'s loss (overwriting `gradient`): exact through the
    /// digital layers; across the reservoir as its `ReservoirGradient` says, or not at all
    /// (then `upstreamRange` gets zeros).
    public func backward(_ parameters: UnsafeBufferPointer<Double>, gradient: UnsafeMutableBufferPointer<Double>) {
        guard let inputs, let labels else { preconditionFailure("backward needs a forward pass first") }
        for index in gradient.indices { gradient[index] = 0 }
        let p = parameters.baseAddress!
        let g = gradient.baseAddress!
        stream.withUnsafeMutableBufferPointer { dh in
            head.backward(
                p + headSlice.offset, labels: labels, samples: samples, gradient: g + headSlice.offset,
                streamGradient: dh.baseAddress!)
            for (sublayer, slice) in zip(sublayers, sublayerSlices).reversed() {
                if sublayer === reservoirSublayer, reservoirSublayer?.gradient == nil { return }
                sublayer.backward(
                    p + slice.offset, streamGradient: dh.baseAddress!, samples: samples, gradient: g + slice.offset)
            }
            embedding.backward(
                p + embeddingSlice.offset, inputs, streamGradient: dh.baseAddress!, samples: samples,
                gradient: g + embeddingSlice.offset)
        }
    }

    /// The classes the last `forward` predicts.
    public func predictedClasses() -> [Int] { head.predictedClasses(samples: samples) }

    /// Mean loss and accuracy over `count` signals, in chunks of `capacity` (reservoir
    /// evaluated once per token).
    public func measure(
        _ parameters: UnsafeBufferPointer<Double>, inputs: UnsafeBufferPointer<Double>, labels: UnsafeBufferPointer<Int>,
        count: Int
    ) throws -> (loss: Double, accuracy: Double) {
        var loss = 0.0
        var correct = 0
        var start = 0
        while start < count {
            let chunk = min(capacity, count - start)
            loss += Double(chunk) * (try forward(
                parameters, inputs: inputs.baseAddress! + start * shape.signalLength,
                labels: labels.baseAddress! + start, samples: chunk, training: false))
            for (offset, predicted) in predictedClasses().enumerated() where predicted == labels[start + offset] {
                correct += 1
            }
            start += chunk
        }
        return (loss / Double(count), Double(correct) / Double(count))
    }
}
