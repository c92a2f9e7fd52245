import Foundation
import PerturbativeTraining
import ReservoirControl
import ReservoirHAL
import ReservoirTesting
import ReservoirTraining
import ReservoirTwin
import Testing

@Suite struct RingModelTests {
    static let moons = RingTask.samples(DatasetSplit(Datasets.moons(seed: 1), seed: 1))

    /// `pgt`: the readout perturbed with the pre-layer (per-sample directions over both) learns
    /// two-moons through the ring well above chance, and its θ moves in both views.
    @Test func pgtModePerturbsTheReadoutWithThePreLayerAndLearns() throws {
        var settings = RingSettings()
        settings.task = "moons"
        settings.mode = .pgt
        settings.budget = 3_000
        settings.sigma = 0.02
        settings.preLearningRate = 0.03
        let model = try ringModel(settings, task: Self.moons)
        let start = model.theta
        #expect(model.readout.isPerturbed && model.perturbedWidth == model.theta.count)
        let summary = try TrainingRun(model: model, plan: settings.plan).run()
        let accuracy = try #require(summary.test_accuracy)
        #expect(accuracy > 0.85, "pgt on moons through the ring: \(accuracy)")
        #expect(model.preParameters != start[0..<model.preCount])
        #expect(model.readoutParameters != start[model.preCount...])
    }

    /// A device that fails mid-run: the error propagates out of the run (no NaN loss), and
    /// nothing after the failure was logged as a number.
    @Test func aDeviceFailureIsThrownNotANaN() throws {
        var settings = RingSettings()
        settings.task = "moons"
        settings.budget = 2_000
        settings.sigma = 0.02
        let (twin, board) = try TwinFixtures.twinBoard(seed: 1)
        var loopSettings = ReservoirSettings(operatingPoint: try #require(board.wiring.operatingPoint))
        loopSettings.feedback = 0
        let model = RingModel(loop: try DriveLoop(board: board, settings: loopSettings), task: Self.moons, settings: settings)
        twin.inject(.interlock, at: .milliseconds(300))
        let run = TrainingRun(model: model, plan: settings.plan)
        var losses: [Double] = []
        #expect(throws: (any Error).self) {
            _ = try run.run { event in if case .step(_, _, let loss) = event { losses.append(loss) } }
        }
        #expect(run.forwardPasses < settings.budget, "the fault must stop the run part-way")
        #expect(losses.allSatisfy { $0.isFinite })
        #expect(model.theta.allSatisfy { $0.isFinite })
    }
}

@Suite struct ThrowingStepTests {
    struct Failed: Error {}

    /// A loss evaluation that throws ends the step before its update: θ, the optimizer and the
    /// step count are as before, and the next step is the one that failed.
    @Test(arguments: [false, true])
    func aFailedEvaluationLeavesTheTrainerAsItWas(perSample: Bool) throws {
        var configuration = PerturbativeConfiguration()
        configuration.directionCount = 1
        configuration.perSampleDirections = perSample
        let trainer = PerturbativeTrainer(configuration: configuration, parameters: [0.5, -0.25, 1], totalSteps: 10)
        let before = (trainer.parameters, trainer.step)
        #expect(throws: Failed.self) {
            if perSample {
                _ = try trainer.step(sampleCount: 2) { (_, _, _) throws(Failed) in throw Failed() }
            } else {
                _ = try trainer.step { (_, _) throws(Failed) in throw Failed() }
            }
        }
        #expect(trainer.parameters == before.0 && trainer.step == before.1)
    }
}
