import Foundation

/// Scratch memory for one batch size: forward activations and backward deltas, allocated once,
/// and the worker threads that evaluate a batch in row chunks.
public final class NetworkWorkspace {
    /// The network this workspace serves.
    public let network: DenseNetwork
    /// Largest batch it holds.
    public let capacity: Int
    /// Row chunks a large batch splits into (each chunk's forward pass and loss run on their
    /// own thread). A fixed number, not the core count: the loss sums the chunks' partial sums
    /// in chunk order, so the results are the same on any machine for the same settings.
    public let chunks: Int
    /// activations[l]: capacity × widths[l] (activations[0] is the input copy).
    var activations: [UnsafeMutableBufferPointer<Double>]
    var deltas: [UnsafeMutableBufferPointer<Double>]
    /// Single-precision copies for `MatrixKernels.blasSingle`: activations, parameters.
    var singleActivations: [UnsafeMutableBufferPointer<Float>]
    let singleParameters: UnsafeMutableBufferPointer<Float>
    /// One partial loss sum per chunk.
    let partialLosses: UnsafeMutableBufferPointer<Double>
    let workers: ChunkWorkers?

    /// A workspace for batches of up to `capacity` samples, split into `chunks` row chunks: one
    /// thread per chunk (the calling one included) when `threads` (default: the machine's cores)
    /// allows, otherwise all chunks in turn on the calling thread. The thread count changes the
    /// speed, never the results.
    public init(network: DenseNetwork, capacity: Int, chunks: Int = 1, threads: Int? = nil) {
        precondition(chunks >= 1)
        self.network = network
        self.capacity = capacity
        self.chunks = chunks
        activations = network.widths.map { width in
            let buffer = UnsafeMutableBufferPointer<Double>.allocate(capacity: capacity * width)
            buffer.initialize(repeating: 0)
            return buffer
        }
        deltas = network.widths.map { width in
            let buffer = UnsafeMutableBufferPointer<Double>.allocate(capacity: capacity * width)
            buffer.initialize(repeating: 0)
            return buffer
        }
        let single = network.kernels == .blasSingle
        singleActivations = network.widths.map { width in
            let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: single ? capacity * width : 0)
            buffer.initialize(repeating: 0)
            return buffer
        }
        singleParameters = .allocate(capacity: single ? network.parameterCount : 0)
        singleParameters.initialize(repeating: 0)
        partialLosses = .allocate(capacity: chunks)
        partialLosses.initialize(repeating: 0)
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let threadCount = min(chunks, max(threads ?? cores, 1))
        workers = threadCount == chunks && chunks > 1 ? ChunkWorkers(count: chunks - 1) : nil
    }

    deinit {
        for buffer in activations { buffer.deallocate() }
        for buffer in deltas { buffer.deallocate() }
        for buffer in singleActivations { buffer.deallocate() }
        singleParameters.deallocate()
        partialLosses.deallocate()
    }

    /// The outputs of the last forward pass (batch × output width).
    public func outputs(count: Int) -> UnsafeBufferPointer<Double> {
        UnsafeBufferPointer(rebasing: activations[activations.count - 1][0..<(count * network.widths.last!)])
    }

    /// Smallest chunk worth a thread: below it the hand-off costs more than the work.
    static let minimumChunkRows = 64

    /// Row ranges of a batch of `count`: `chunks` near-equal ranges, or one when it is small.
    func rowChunks(count: Int) -> Int {
        count >= chunks * Self.minimumChunkRows ? chunks : 1
    }

    /// Runs `body(chunk, rows)` for every chunk of a batch of `count`, chunk 0 on the calling
    /// thread and the others on the workers, and returns when all are done.
    func forEachChunk(count: Int, _ body: (Int, Range<Int>) -> Void) {
        let used = rowChunks(count: count)
        func rows(_ chunk: Int) -> Range<Int> { (chunk * count / used)..<((chunk + 1) * count / used) }
        guard used > 1, let workers else {
            for chunk in 0..<used { body(chunk, rows(chunk)) }
            return
        }
        withoutActuallyEscaping(body) { body in
            workers.run(chunks: used - 1) { worker in body(worker + 1, rows(worker + 1)) }
            body(0, rows(0))
            workers.wait()
        }
    }
}
