import PerturbativeTraining
import SeededRandom
import Testing

@Suite struct TrainerTests {
    /// A noisy quadratic bowl around 1: L(θ) = ½‖θ − 1‖² + noise.
    func bowl(noiseSeed: UInt64) -> (UnsafeBufferPointer<Double>) -> Double {
        var noise = GaussianSource(seed: noiseSeed)
        return { p in
            var value = 0.0
            for x in p { value += 0.5 * (x - 1) * (x - 1) }
            return value + 1e-3 * noise.next()
        }
    }

    func configuration(_ adjust: (inout PerturbativeConfiguration) -> Void = { _ in }) -> PerturbativeConfiguration {
        var configuration = PerturbativeConfiguration()
        configuration.directionCount = 4
        configuration.sigma = 0.01
        configuration.learningRate = 0.05
        configuration.seed = 42
        adjust(&configuration)
        return configuration
    }

    @Test(arguments: [OptimizerKind.sgd, .momentum, .adam])
    func trainingDescendsANoisyBowl(optimizer: OptimizerKind) {
        let trainer = PerturbativeTrainer(
            configuration: configuration {
                $0.optimizer = optimizer; $0.learningRate = optimizer == .adam ? 0.05 : 0.02
            },
            parameters: [Double](repeating: 0, count: 20), totalSteps: 500)
        let loss = bowl(noiseSeed: 1)
        var last = 0.0
        for _ in 0..<500 { last = trainer.step(loss: loss).loss }
        // Starts at ½·20 = 10; the noise floor is 1e-3.
        #expect(last < 0.2)
    }

    @Test func spsaDescendsToo() {
        let trainer = PerturbativeTrainer(
            configuration: configuration {
                $0.method = .spsa; $0.spsa = SPSAGains(a: 0.5, c: 0.05, stability: 10)
            },
            parameters: [Double](repeating: 0, count: 20), totalSteps: 2000)
        let loss = bowl(noiseSeed: 2)
        var last = 0.0
        for _ in 0..<2000 { last = trainer.step(loss: loss).loss }
        #expect(last < 1)
        #expect(trainer.configuration.forwardPassesPerStep == 2)
    }

    @Test(arguments: [false, true])
    func replayingTheLogReproducesTheParametersBitForBit(blocksAndRejection: Bool) {
        let settings = configuration {
            $0.schedule = .cosine
            $0.clipNorm = 5
            if blocksAndRejection {
                $0.blocks = [0..<7, 7..<20]
                $0.rejectionTolerance = 0.0
                $0.directionKind = .orthogonal
            }
        }
        let initial = (0..<20).map { Double($0) / 10 }
        let trainer = PerturbativeTrainer(configuration: settings, parameters: initial, totalSteps: 300)
        let loss = bowl(noiseSeed: 3)
        var records: [StepRecord] = []
        for _ in 0..<300 { records.append(trainer.step(loss: loss)) }
        if blocksAndRejection { #expect(records.contains { !$0.accepted }) }
        let replayed = PerturbativeTrainer(configuration: settings, parameters: initial, totalSteps: 300)
        replayed.replay(records)
        #expect(replayed.parameters == trainer.parameters)
        #expect(replayed.optimizer == trainer.optimizer)
    }
}

@Suite struct PerSampleDirectionTests {
    // ℓ_s(θ) = ½·a_s·‖θ − t_s‖²: the batch gradient is (1/B)·Σ a_s(θ − t_s).
    static let weights: [Double] = [1, 2, 0.5, 1.5]
    static let centres: [[Double]] = [[1, 0, 0, 2, 1], [0, 1, 1, 0, -1], [2, 2, 0, 1, 0], [-1, 0, 1, 1, 1]]
    static func sampleLoss(_ p: UnsafeBufferPointer<Double>, _ s: Int) -> Double {
        var value = 0.0
        for i in 0..<p.count { value += 0.5 * weights[s] * (p[i] - centres[s][i]) * (p[i] - centres[s][i]) }
        return value
    }

    func configuration() -> PerturbativeConfiguration {
        var configuration = PerturbativeConfiguration()
        configuration.perSampleDirections = true
        configuration.sigma = 0.1
        configuration.optimizer = .sgd
        configuration.learningRate = 0  // measure estimates without moving
        configuration.seed = 11
        return configuration
    }

    @Test func theMeanPerSampleEstimateIsTheBatchGradient() {
        let theta: [Double] = [0.5, -0.5, 0.2, 0.1, 0.3]
        let trainer = PerturbativeTrainer(configuration: configuration(), parameters: theta, totalSteps: 1)
        var sums = [Double](repeating: 0, count: 5)
        let steps = 20_000
        for _ in 0..<steps {
            let record = trainer.step(sampleCount: 4, sampleLoss: Self.sampleLoss)
            // Reconstruct ĝ from the record: (1/B)·Σ c_s z_s with z_s regenerated.
            var directions = [Double](repeating: 0, count: 4 * 5)
            directions.withUnsafeMutableBufferPointer {
                DirectionGenerator(kind: .gaussian, seed: 11).fill(step: record.step, count: 4, dimension: 5, into: $0)
            }
            for s in 0..<4 { for i in 0..<5 { sums[i] += record.differences[s] * directions[s * 5 + i] / 4 } }
        }
        let exact = (0..<5).map { i in
            (0..<4).reduce(0) { $0 + Self.weights[$1] * (theta[i] - Self.centres[$1][i]) } / 4
        }
        // Each c_s = z_sᵀ∇ℓ_s exactly (quadratic); Var of the mean over B·N draws per coordinate
        // ≤ max‖∇ℓ_s‖²·2/(B·N) ≈ 2·16/8e4; 5 standard errors ≈ 0.1.
        for i in 0..<5 { #expect(abs(sums[i] / Double(steps) - exact[i]) < 0.1, "coordinate \(i)") }
    }

    @Test func perSampleStepsReplayBitForBit() {
        var settings = configuration()
        settings.learningRate = 0.05
        settings.optimizer = .adam
        let trainer = PerturbativeTrainer(configuration: settings, parameters: [0, 0, 0, 0, 0], totalSteps: 100)
        var records: [StepRecord] = []
        for _ in 0..<100 { records.append(trainer.step(sampleCount: 4, sampleLoss: Self.sampleLoss)) }
        #expect(settings.forwardPassesPerStep == 2)
        let replayed = PerturbativeTrainer(configuration: settings, parameters: [0, 0, 0, 0, 0], totalSteps: 100)
        replayed.replay(records)
        #expect(replayed.parameters == trainer.parameters)
    }

    /// The batched form (a device evaluates all of a pass's samples at once, the first pass +
    /// on even steps and − on odd ones) takes the same steps as the per-sample loop.
    @Test func batchedPerSampleStepsEqualTheSampleBySampleOnes() {
        var settings = configuration()
        settings.learningRate = 0.05
        settings.optimizer = .adam
        let initial: [Double] = [0.3, -0.1, 0, 0.2, 0.5]
        let sequential = PerturbativeTrainer(configuration: settings, parameters: initial, totalSteps: 50)
        let batched = PerturbativeTrainer(configuration: settings, parameters: initial, totalSteps: 50)
        var firstSigns: [Bool] = []
        for _ in 0..<50 {
            let expected = sequential.step(sampleCount: 4, sampleLoss: Self.sampleLoss)
            let theta = batched.parameters
            let record = batched.step(sampleCount: 4) { directions, plusFirst, values in
                firstSigns.append(plusFirst)
                var perturbed = theta
                for pass in 0..<2 {
                    let sign = (pass == 0) == plusFirst ? settings.sigma : -settings.sigma
                    for sample in 0..<4 {
                        for i in 0..<5 { perturbed[i] = theta[i] + sign * directions[sample * 5 + i] }
                        values[pass * 4 + sample] = perturbed.withUnsafeBufferPointer { Self.sampleLoss($0, sample) }
                    }
                }
            }
            #expect(record.differences.count == 4)
            #expect(zip(record.differences, expected.differences).allSatisfy { abs($0 - $1) < 1e-9 })
        }
        #expect(firstSigns.prefix(4) == [true, false, true, false])
        for i in 0..<5 { #expect(abs(batched.parameters[i] - sequential.parameters[i]) < 1e-9) }
    }
}
