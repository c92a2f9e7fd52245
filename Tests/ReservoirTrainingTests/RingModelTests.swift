import Foundation
import PerturbativeTraining
import ReservoirBenchmarks
import ReservoirControl
import ReservoirHAL
import ReservoirTesting
import ReservoirTraining
import ReservoirTwin
import SeededRandom
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

    /// A drive loop on the default twin without feedback, and the passes of the default batch
    /// that stream one second of drive through it.
    static func loopWithoutFeedback() throws -> (DriveLoop, passesPerSecond: Double) {
        let (_, board) = try TwinFixtures.twinBoard(seed: 1)
        var loopSettings = ReservoirSettings(operatingPoint: try #require(board.wiring.operatingPoint))
        loopSettings.feedback = 0
        let loop = try DriveLoop(board: board, settings: loopSettings)
        return (loop, 1 / (Double(RingSettings().batch * loop.delayPeriods) * loop.periodSeconds))
    }

    /// The readout's weight decay: the settings' if given; else drive-space's grows as
    /// 0.1·√(T/100 s) with the training device seconds T its budget streams (never below
    /// 0.1), and parameter-space keeps 0.1.
    @Test func driveSpaceReadoutWeightDecayGrowsWithTheTrainingDeviceTime() throws {
        let (loop, passesPerSecond) = try Self.loopWithoutFeedback()
        var settings = RingSettings()
        settings.perturbation = .drive
        for (seconds, expected) in [(10.0, 0.1), (100, 0.1), (400, 0.2), (2_500, 0.5)] {
            settings.budget = Int((seconds * passesPerSecond).rounded())
            let decay = RingModel.readoutWeightDecay(settings, loop: loop, sequence: false)
            #expect(abs(decay - expected) < 1e-3, "\(seconds) s: λ = \(decay)")
        }
        settings.perturbation = .parameters
        #expect(RingModel.readoutWeightDecay(settings, loop: loop, sequence: false) == 0.1)
        settings.perturbation = .drive
        settings.readoutWeightDecay = 0.7
        #expect(RingModel.readoutWeightDecay(settings, loop: loop, sequence: false) == 0.7)
    }

    /// The pre-layer's rate: the settings' if given; else drive-space's is 0.003 up to 100 s of
    /// training drive, 0.002 from 300 s on, log-linear between (0.0025 at √3·100 s);
    /// parameter-space keeps its constant.
    @Test func driveSpaceLearningRateFallsWithTheTrainingDeviceTime() throws {
        let (loop, passesPerSecond) = try Self.loopWithoutFeedback()
        var settings = RingSettings()
        settings.perturbation = .drive
        for (seconds, expected) in [(10.0, 0.003), (100, 0.003), (100 * 3.0.squareRoot(), 0.0025), (300, 0.002), (3_000, 0.002)] {
            settings.budget = Int((seconds * passesPerSecond).rounded())
            let rate = RingModel.preLearningRate(settings, loop: loop, sequence: false)
            #expect(abs(rate - expected) < 2e-5, "\(seconds) s: lr = \(rate)")
        }
        settings.perturbation = .parameters
        #expect(RingModel.preLearningRate(settings, loop: loop, sequence: false) == ParameterPerturbation.learningRate(perSample: true))
        settings.preLearningRate = 0.07
        #expect(RingModel.preLearningRate(settings, loop: loop, sequence: false) == 0.07)
    }

    /// The hidden layer: drive-space and the static-curve ceiling train through one of
    /// `DrivePerturbation.preHidden` units, the others have none, 0 means none, and a width
    /// given stands; the model's pre-layer has the parameters that width implies.
    @Test func driveSpaceTrainsThroughAHiddenLayerByDefault() throws {
        var settings = RingSettings()
        settings.perturbation = .drive
        #expect(settings.resolvedPreHidden(sequence: false) == DrivePerturbation.preHidden)
        settings.mode = .staticCurve
        #expect(settings.resolvedPreHidden(sequence: false) == DrivePerturbation.preHidden)
        #expect(settings.resolvedPreHidden(sequence: true) == nil)
        settings.mode = .readout
        #expect(settings.resolvedPreHidden(sequence: false) == nil)
        settings.mode = .pgtHybrid
        settings.perturbation = .parameters
        #expect(settings.resolvedPreHidden(sequence: false) == nil)
        settings.preHidden = 12
        #expect(settings.resolvedPreHidden(sequence: false) == 12)
        settings.perturbation = .drive
        settings.preHidden = 0
        #expect(settings.resolvedPreHidden(sequence: false) == nil)
        settings.task = "moons"
        settings.preHidden = nil
        let model = try ringModel(settings, task: Self.moons)
        let nodes = model.loop.settings.nodes
        let hidden = DrivePerturbation.preHidden
        #expect(model.preCount == (2 + 1) * hidden + (hidden + 1) * nodes)
    }

    /// Noisy training inputs: x̃ = x + σ_x·ε with ε ~ N(0, 1) per feature, from the seed and the
    /// step alone (a resumed run draws the same), on the same samples as without noise; the
    /// differences have mean 0 and variance σ_x² (the sample variance of n = 4,000 values has a
    /// relative standard deviation √(2/n) ≈ 2.2 %: 10 % is 4.5 of those). A sequence's inputs
    /// are its signal and take none.
    @Test func inputNoiseIsSeededGaussianOnTheSameSamples() throws {
        let sigma = 0.5
        let clean = Self.moons.trainingBatch(step: 7, batch: 2_000, washout: 0, seed: 3, inputNoise: 0)
        let noisy = Self.moons.trainingBatch(step: 7, batch: 2_000, washout: 0, seed: 3, inputNoise: sigma)
        #expect(noisy.labels == clean.labels)
        let differences = zip(noisy.inputs, clean.inputs).map { $0 - $1 }
        let n = Double(differences.count)
        let mean = differences.reduce(0, +) / n
        let variance = differences.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)
        #expect(abs(mean) < 4 * sigma / n.squareRoot())
        #expect(abs(variance / (sigma * sigma) - 1) < 0.1)
        let again = Self.moons.trainingBatch(step: 7, batch: 2_000, washout: 0, seed: 3, inputNoise: sigma)
        #expect(again.inputs == noisy.inputs)
        let nextStep = Self.moons.trainingBatch(step: 8, batch: 2_000, washout: 0, seed: 3, inputNoise: sigma)
        let nextClean = Self.moons.trainingBatch(step: 8, batch: 2_000, washout: 0, seed: 3, inputNoise: 0)
        #expect(zip(nextStep.inputs, nextClean.inputs).map { $0 - $1 } != differences)

        let sequence = RingTask.sequence(.sineSquare, TaskData.make(.sineSquare, seed: 1))
        #expect(
            sequence.trainingBatch(step: 2, batch: 20, washout: 4, seed: 1, inputNoise: sigma).inputs
                == sequence.trainingBatch(step: 2, batch: 20, washout: 4, seed: 1, inputNoise: 0).inputs)
    }

    /// The inputs' noise: the settings' if given; else drive-space's is none up to 300 s of
    /// training drive and 0.3 from 1,000 s on, log-linear between (0.15 at √(300·1,000) s); the
    /// static-curve ceiling takes 0.3, parameter-space, the fixed mask and sequences none; the
    /// model trains with what resolves.
    @Test func driveSpaceInputNoiseGrowsWithTheTrainingDeviceTime() throws {
        let (loop, passesPerSecond) = try Self.loopWithoutFeedback()
        var settings = RingSettings()
        settings.perturbation = .drive
        for (seconds, expected) in [(100.0, 0.0), (300, 0), ((300.0 * 1_000).squareRoot(), 0.15), (1_000, 0.3), (3_000, 0.3)] {
            settings.budget = Int((seconds * passesPerSecond).rounded())
            let noise = RingModel.inputNoise(settings, loop: loop, sequence: false)
            #expect(abs(noise - expected) < 1e-3, "\(seconds) s: σ_x = \(noise)")
        }
        #expect(RingModel.inputNoise(settings, loop: loop, sequence: true) == 0)
        settings.mode = .staticCurve
        #expect(RingModel.inputNoise(settings, loop: loop, sequence: false) == DrivePerturbation.longRunInputNoise)
        settings.mode = .readout
        #expect(RingModel.inputNoise(settings, loop: loop, sequence: false) == 0)
        settings.mode = .pgtHybrid
        settings.perturbation = .parameters
        #expect(RingModel.inputNoise(settings, loop: loop, sequence: false) == 0)
        settings.inputNoise = 0.1
        #expect(RingModel.inputNoise(settings, loop: loop, sequence: false) == 0.1)
        let model = try ringModel(settings, task: Self.moons)
        #expect(model.inputNoise == 0.1)
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

@Suite struct DriveEstimateTests {
    /// On a synthetic smooth black box, L_s(a) = Σ_i w_i·sin(a_i) + ½ Σ_i a_i², the drive-space
    /// estimate averaged over many Rademacher directions is the exact gradient
    /// ∂L_s/∂a_i = w_i·cos(a_i) + a_i, to O(σ²) and the Monte-Carlo error; either pass order.
    @Test(arguments: [true, false])
    func theDriveSpaceEstimateIsUnbiasedOnASmoothBlackBox(plusFirst: Bool) {
        let nodes = 8
        let count = 3
        let sigma = 0.01
        var random = Xoshiro256StarStar(seed: 9, stream: 7)
        let drives = (0..<(count * nodes)).map { _ in 2 * random.nextUnitInterval() - 1 }
        let weights = (0..<nodes).map { _ in 2 * random.nextUnitInterval() - 1 }
        func loss(_ a: [Double]) -> Double {
            var total = 0.0
            for (value, weight) in zip(a, weights) { total += weight * Foundation.sin(value) + 0.5 * value * value }
            return total
        }
        let draws = 20_000
        var mean = [Double](repeating: 0, count: count * nodes)
        var gradient = [Double](repeating: 0, count: count * nodes)
        let generator = DirectionGenerator(kind: .rademacher, seed: 3)
        var directions = [Double](repeating: 0, count: count * nodes)
        for draw in 0..<draws {
            directions.withUnsafeMutableBufferPointer {
                generator.fill(step: draw, count: count, dimension: nodes, into: $0)
            }
            let sign = plusFirst ? sigma : -sigma
            var losses = [Double](repeating: 0, count: 2 * count)
            for sample in 0..<count {
                let range = (sample * nodes)..<((sample + 1) * nodes)
                let a = Array(drives[range])
                let z = Array(directions[range])
                losses[sample] = loss((0..<nodes).map { a[$0] + sign * z[$0] })
                losses[count + sample] = loss((0..<nodes).map { a[$0] - sign * z[$0] })
            }
            _ = DrivePerturbation.estimate(
                losses: losses, plusFirst: plusFirst, directions: directions, sigma: sigma, count: count,
                nodes: nodes, into: &gradient)
            for index in mean.indices { mean[index] += gradient[index] / Double(draws) }
        }
        for sample in 0..<count {
            let exact = (0..<nodes).map { node in
                let a = drives[sample * nodes + node]
                return weights[node] * Foundation.cos(a) + a
            }
            for node in 0..<nodes {
                // c·z_i = Σ_j g_j z_j z_i: mean g_i, variance Σ_{j≠i} g_j². Five standard errors of
                // the mean over the draws, plus the O(σ²) curvature term; the estimate is of the
                // batch mean's gradient, so each sample's is over B.
                let variance = (0..<nodes).filter { $0 != node }.reduce(0.0) { $0 + exact[$1] * exact[$1] }
                let tolerance = (5 * (variance / Double(draws)).squareRoot() + sigma * sigma) / Double(count)
                let expected = exact[node] / Double(count)
                #expect(
                    abs(mean[sample * nodes + node] - expected) < tolerance,
                    "sample \(sample) node \(node): \(mean[sample * nodes + node]) against \(expected) ± \(tolerance)")
            }
        }
    }
}
