import Foundation
import ReservoirCalibration
import ReservoirFiles
import ReservoirHAL
import ReservoirTesting
import ReservoirTwin
import Testing
import TwinFitting

@Suite struct TwinFitTests {
    /// Issue 5: a twin fitted to a randomized twin's calibration reproduces what calibration
    /// measures on the original. Seeds with a negative offset (1), a partly clipped dark reading
    /// (2) and a positive offset (4).
    @Test(arguments: [1, 2, 4] as [UInt64])
    func aFittedTwinReproducesTheOriginalsCalibration(randomize: UInt64) throws {
        let template = try TwinFixtures.defaultParameters()
        let (_, original) = try TwinFixtures.twinBoard(seed: 1) { $0 = $0.randomized(seed: randomize) }
        let measured = try DeviceCalibration().run(board: original)
        let fitted = try TwinFit.fit(calibration: measured, template: template, wiring: original.wiring)
        let (_, copy) = try TwinFixtures.twinBoard(seed: 1) { $0 = fitted }
        let remeasured = try DeviceCalibration().run(board: copy)

        #expect(remeasured.latencySamples == measured.latencySamples)
        #expect(abs(remeasured.thresholdVolts.value / measured.thresholdVolts.value - 1) < 0.01)
        let range = (measured.transfer.map(\.upVolts).max() ?? 0) - (measured.transfer.map(\.upVolts).min() ?? 0)
        let worst = zip(measured.transfer, remeasured.transfer).map { abs($0.upVolts - $1.upVolts) }.max() ?? .infinity
        #expect(worst < 0.02 * range, "transfer curves differ by \(worst) V of \(range) V")
        let floor = measured.noiseFloorVolts.value
        #expect(abs(remeasured.noiseFloorVolts.value - floor) <= 0.15 * floor)
    }

    @Test func theParameterFileOfAFitReadsBackExactly() throws {
        let parameters = try TwinFixtures.defaultParameters().randomized(seed: 5)
        let text = parameters.yaml(header: "a test\nof two lines")
        let path = NSTemporaryDirectory() + "ringlab-fit-\(UUID().uuidString).yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        var read = try TwinParameters(parsing: DataFile.load(path), source: path)
        read.faults = parameters.faults
        #expect(read == parameters)
    }

    @Test func nelderMeadFindsTheMinimumOfRosenbrocksFunction() {
        let best = NelderMead.minimize(
            { x in 100 * (x[1] - x[0] * x[0]) * (x[1] - x[0] * x[0]) + (1 - x[0]) * (1 - x[0]) }, start: [-1.2, 1],
            steps: [0.1, 0.1], iterations: 5_000, tolerance: 1e-20)
        #expect(abs(best[0] - 1) < 1e-5 && abs(best[1] - 1) < 1e-5)
    }
}
