import Foundation
import NeuralNet
import ReservoirFiles
import ReservoirTraining
import Testing

/// The transformer's training wing: PGT never asks a reservoir for a gradient, the ring has
/// none to give, and MNIST-1D is the file its generator wrote.
@Suite struct TransformerModelTests {
    /// A digital reservoir that counts the gradients asked of it.
    final class CountingReservoir: DifferentiableReservoir {
        let inner: DigitalReservoir
        var backwardCalls = 0
        var evaluations = 0
        init(_ inner: DigitalReservoir) { self.inner = inner }
        var width: Int { inner.width }
        var kind: String { "digital" }
        func evaluate(_ inputs: UnsafeBufferPointer<Double>, rows: Int, into outputs: UnsafeMutableBufferPointer<Double>) {
            evaluations += 1
            inner.evaluate(inputs, rows: rows, into: outputs)
        }
        func backward(_ outputGradient: UnsafeBufferPointer<Double>, rows: Int, into inputGradient: UnsafeMutableBufferPointer<Double>) {
            backwardCalls += 1
            inner.backward(outputGradient, rows: rows, into: inputGradient)
        }
    }

    static let dataFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../data").standardized.path

    static func mnist1d() throws -> DatasetSplit {
        DatasetSplit(
            train: try Datasets.loadCSV(dataFolder + "/mnist1d-train.csv"),
            test: try Datasets.loadCSV(dataFolder + "/mnist1d-test.csv"))
    }

    func model(mode: TransformerSettings.Mode) throws -> (TransformerModel, CountingReservoir) {
        var settings = TransformerSettings()
        settings.mode = mode
        settings.batch = 16
        settings.budget = 10
        let split = try Self.mnist1d()
        let reservoir = CountingReservoir(
            DigitalReservoir(width: 32, expansion: 64, seed: 1, capacity: 2 * 16 * 10))
        return (TransformerModel(settings: settings, split: split, reservoir: reservoir), reservoir)
    }

    @Test func pgtTrainsUpstreamWithoutEverAskingTheReservoirForAGradient() throws {
        let (model, reservoir) = try model(mode: .pgtHybrid)
        let before = model.parameters
        for index in 0..<5 { _ = try model.step(index, forwardPasses: 2 * index) }
        #expect(reservoir.backwardCalls == 0)
        #expect(reservoir.evaluations == 5)
        // …and yet what is upstream of it moved.
        let upstream = model.network.upstreamRange
        #expect(zip(before[upstream], model.parameters[upstream]).contains { $0 != $1 })
    }

    @Test func backpropAsksForTheGradientAndReadoutLeavesUpstreamAlone() throws {
        let (backprop, counted) = try model(mode: .backprop)
        for index in 0..<3 { _ = try backprop.step(index, forwardPasses: 2 * index) }
        #expect(counted.backwardCalls == 3)
        let (readout, untouched) = try model(mode: .readout)
        let before = readout.parameters
        for index in 0..<3 { _ = try readout.step(index, forwardPasses: 2 * index) }
        #expect(untouched.backwardCalls == 0)
        let upstream = readout.network.upstreamRange
        #expect(before[upstream] == readout.parameters[upstream])
        #expect(before[upstream.upperBound...] != readout.parameters[upstream.upperBound...])
    }

    @Test func theRingReservoirHasNoGradientToOffer() {
        #expect(!(RingReservoir.self is any DifferentiableReservoir.Type))
        #expect(RingReservoir.self is any ReservoirLayer.Type)
        #expect(DigitalReservoir.self is any DifferentiableReservoir.Type)
    }

    /// The committed MNIST-1D files are the ones whose digests the generator wrote
    /// (`python3 tools/mnist1d_generate.py --check` regenerates them and compares, in `make test`).
    @Test func theCommittedMNIST1DMatchesItsGeneratorsDigests() throws {
        let folder = Self.dataFolder
        let lines = try String(contentsOfFile: folder + "/mnist1d.sha256", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2)
        for line in lines {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            #expect(try SHA256.hexDigest(ofFile: folder + "/" + parts[1]) == String(parts[0]), "\(parts[1])")
        }
        let split = try Self.mnist1d()
        #expect(split.train.count == 4_000 && split.test.count == 1_000)
        #expect(split.train.featureCount == 40 && split.train.classCount == 10)
    }
}
