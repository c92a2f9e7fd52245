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
