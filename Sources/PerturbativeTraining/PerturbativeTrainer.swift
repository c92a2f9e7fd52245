/// What perturbative training does each step, all of it a setting (docs/pgt.md).
public struct PerturbativeConfiguration: Sendable, Codable, Equatable {
    /// `pgt` (the estimator family) or `spsa` (Spall's gains, Rademacher, K = 1, plain SGD).
    public enum Method: String, Sendable, Codable { case pgt, spsa }

    public var method: Method = .pgt
    public var directionKind: DirectionKind = .gaussian
    public var directionCount = 8
    public var sigma = 1e-3
    public var sides: PerturbativeEstimator.Sides = .two
    public var optimizer: OptimizerKind = .adam
    public var learningRate = 1e-3
    public var schedule: Schedule = .constant
    public var clipNorm: Double?
    /// Decoupled weight decay λ (θ ← θ − lr·λθ each step, as AdamW); 0: none. It costs no
    /// forward pass and needs no gradient.
    public var weightDecay = 0.0
    /// β₁ of Adam (and momentum's decay).
    public var firstMomentDecay = 0.9
    /// Perturb one block (layer) per step, in turn.
    public var blocks: [Range<Int>]?
    /// Give every sample of the batch its own direction (two-sided): one pair of forward passes
    /// over a batch of B then yields B directional derivatives instead of one, and
    /// ĝ = (1/B)·Σ_s c_s z_s with c_s = [ℓ_s(θ + σz_s) − ℓ_s(θ − σz_s)]/(2σ) is unbiased for the
    /// batch gradient with about B times less variance. The objective must evaluate each
    /// sample's loss at its own parameters (a digital pre-layer can; a shared physical layer
    /// sees the perturbed drives as usual).
    public var perSampleDirections = false
    /// Undo a step whose re-evaluated loss rose by more than this over the step's loss.
    public var rejectionTolerance: Double?
    public var spsa = SPSAGains(a: 0.05, c: 0.01, stability: 100)
    /// The run seed every direction derives from.
    public var seed: UInt64 = 1

    public init() {}

    /// Forward passes of one step.
    public var forwardPassesPerStep: Int {
        let estimate: Int
        switch method {
        case .pgt where perSampleDirections: estimate = 2
        case .pgt: estimate = sides == .two ? 2 * directionCount : directionCount + 1
        case .spsa: estimate = 2
        }
        return estimate + (rejectionTolerance == nil ? 0 : 1)
    }
}

/// What one step did: enough to replay it exactly from the seed.
public struct StepRecord: Sendable, Codable, Equatable {
    public var step: Int
    /// The scalar differences c_k.
    public var differences: [Double]
    /// Mean of the step's loss evaluations.
    public var loss: Double
    /// ‖ĝ‖ before clipping.
    public var gradientNorm: Double
    public var learningRate: Double
    public var accepted: Bool

    public init(
        step: Int, differences: [Double], loss: Double, gradientNorm: Double, learningRate: Double, accepted: Bool
    ) {
        self.step = step
        self.differences = differences
        self.loss = loss
        self.gradientNorm = gradientNorm
        self.learningRate = learningRate
        self.accepted = accepted
    }
}

/// Trains a parameter vector by forward passes only. Knows nothing of networks: an objective
/// is a function from parameters to a loss (the caller fixes the batch for each step).
public final class PerturbativeTrainer {
    public let configuration: PerturbativeConfiguration
    public private(set) var parameters: [Double]
    public private(set) var optimizer: Optimizer
    public private(set) var step = 0
    /// Steps the schedule spans.
    public var totalSteps: Int

    private let scratch: EstimatorScratch
    private var gradient: [Double]
    private var differences: [Double] = []

    public init(configuration: PerturbativeConfiguration, parameters: [Double], totalSteps: Int) {
        self.configuration = configuration
        self.parameters = parameters
        self.totalSteps = totalSteps
        optimizer = Optimizer(
            kind: configuration.method == .spsa ? .sgd : configuration.optimizer, dimension: parameters.count,
            firstMomentDecay: configuration.firstMomentDecay)
        scratch = EstimatorScratch(directionCount: max(configuration.directionCount, 1), dimension: parameters.count)
        gradient = [Double](repeating: 0, count: parameters.count)
    }

    /// Restores a checkpointed state (parameters, optimizer, step).
    public func restore(parameters: [Double], optimizer: Optimizer, step: Int) {
        precondition(parameters.count == self.parameters.count)
        self.parameters = parameters
        self.optimizer = optimizer
        self.step = step
    }

    private var block: Range<Int>? {
        guard let blocks = configuration.blocks, !blocks.isEmpty else { return nil }
        return blocks[step % blocks.count]
    }

    private var estimator: PerturbativeEstimator {
        switch configuration.method {
        case .pgt:
            return PerturbativeEstimator(
                directions: DirectionGenerator(kind: configuration.directionKind, seed: configuration.seed),
                directionCount: configuration.directionCount, sigma: configuration.sigma, sides: configuration.sides)
        case .spsa:
            var estimator = PerturbativeEstimator(
                directions: DirectionGenerator(kind: .rademacher, seed: configuration.seed), directionCount: 1,
                sigma: configuration.spsa.perturbation(step))
            estimator.alternatesOrder = false
            return estimator
        }
    }

    private var learningRate: Double {
        switch configuration.method {
        case .pgt:
            return configuration.schedule.rate(base: configuration.learningRate, step: step, totalSteps: totalSteps)
        case .spsa: return configuration.spsa.stepSize(step)
        }
    }

    /// One training step on `loss` (all its evaluations on the same batch).
    public func step(loss: (UnsafeBufferPointer<Double>) -> Double) -> StepRecord {
        let d = parameters.count
        return step(losses: { vectors, values in
            for index in values.indices {
                values[index] = loss(UnsafeBufferPointer(rebasing: vectors[(index * d)..<((index + 1) * d)]))
            }
        })
    }

    /// One training step whose evaluations are handed over together: `losses` gets the
    /// parameter vectors to evaluate (rows of d, in the estimator's order) and writes one loss
    /// per row, all on the same batch, so a device can stream them back to back. A rejection
    /// check afterwards is one more call with one row.
    /// An evaluation that throws (a device that failed) ends the step before the update: the
    /// parameters, the optimizer and the step count are as before it, and the error propagates.
    public func step<Failure: Error>(
        losses: (UnsafeBufferPointer<Double>, UnsafeMutableBufferPointer<Double>) throws(Failure) -> Void
    ) throws(Failure) -> StepRecord {
        var evaluated: [Double] = []
        var failure: Failure?
        let estimator = estimator
        let rate = learningRate
        // Kept only when the step may be undone.
        let previous = configuration.rejectionTolerance == nil ? [] : parameters
        let norm: Double = withoutActuallyEscaping(losses) { losses in
            // The estimator's callback cannot throw: a failure is kept, later passes are skipped
            // (their values are never used), and it is thrown before anything is updated.
            let counting: (UnsafeBufferPointer<Double>, UnsafeMutableBufferPointer<Double>) -> Void = {
                vectors, values in
                guard failure == nil else { return }
                do throws(Failure) { try losses(vectors, values) } catch {
                    failure = error
                    return
                }
                evaluated.append(contentsOf: values)
            }
            return parameters.withUnsafeBufferPointer { p in
                gradient.withUnsafeMutableBufferPointer { g in
                    estimator.estimate(
                        step: step, parameters: p, block: block, losses: counting, scratch: scratch, gradient: g,
                        differences: &differences)
                    return clipGradient(g, maximumNorm: configuration.clipNorm)
                }
            }
        }
        if let failure { throw failure }
        let stepLoss = evaluated.reduce(0, +) / Double(evaluated.count)
        gradient.withUnsafeBufferPointer { g in
            parameters.withUnsafeMutableBufferPointer { p in
                optimizer.apply(gradient: g, learningRate: rate, weightDecay: configuration.weightDecay, to: p)
            }
        }
        var accepted = true
        if let tolerance = configuration.rejectionTolerance {
            var after = 0.0
            // A failed re-evaluation ends the run (which resumes from its checkpoint).
            try parameters.withUnsafeBufferPointer { (p) throws(Failure) in
                try withUnsafeMutablePointer(to: &after) { (value) throws(Failure) in
                    try losses(p, UnsafeMutableBufferPointer(start: value, count: 1))
                }
            }
            if after > stepLoss + tolerance {
                parameters = previous
                accepted = false
            }
        }
        let record = StepRecord(
            step: step, differences: differences, loss: stepLoss, gradientNorm: norm, learningRate: rate,
            accepted: accepted)
        step += 1
        return record
    }

    /// One per-sample step whose evaluations are handed over together, for a device that
    /// evaluates a whole batch per pass: `losses` gets the B directions z_s (rows of d, on the
    /// whole vector) and whether the first pass is the + one, and writes 2B losses: sample s's
    /// loss at θ + σ·sign·z_s for the first pass (rows 0..<B), then with the opposite sign.
    /// The first pass is + on even steps and − on odd ones (+,−,−,+ over pairs of steps, so a
    /// linear drift cancels). Same estimate as `step(sampleCount:sampleLoss:)`.
    /// A `batchLosses` that throws ends the step before the update, as `step(losses:)` does.
    public func step<Failure: Error>(
        sampleCount: Int,
        batchLosses: (UnsafeBufferPointer<Double>, Bool, UnsafeMutableBufferPointer<Double>) throws(Failure) -> Void
    ) throws(Failure) -> StepRecord {
        precondition(configuration.perSampleDirections && configuration.method == .pgt && configuration.blocks == nil)
        let d = parameters.count
        let sigma = configuration.sigma
        if batchScratch.count < sampleCount * d { batchScratch = [Double](repeating: 0, count: sampleCount * d) }
        if batchLossValues.count < 2 * sampleCount { batchLossValues = [Double](repeating: 0, count: 2 * sampleCount) }
        let generator = DirectionGenerator(kind: configuration.directionKind, seed: configuration.seed)
        let plusFirst = !(configuration.method == .pgt && step % 2 == 1)
        try batchScratch.withUnsafeMutableBufferPointer { (z) throws(Failure) in
            generator.fill(step: step, firstRow: 0, count: sampleCount, dimension: d, into: z)
            try batchLossValues.withUnsafeMutableBufferPointer { (values) throws(Failure) in
                try batchLosses(
                    UnsafeBufferPointer(rebasing: z[0..<(sampleCount * d)]), plusFirst,
                    UnsafeMutableBufferPointer(rebasing: values[0..<(2 * sampleCount)]))
            }
        }
        differences.removeAll(keepingCapacity: true)
        for index in gradient.indices { gradient[index] = 0 }
        var total = 0.0
        batchScratch.withUnsafeBufferPointer { z in
            gradient.withUnsafeMutableBufferPointer { g in
                for sample in 0..<sampleCount {
                    let first = batchLossValues[sample]
                    let second = batchLossValues[sampleCount + sample]
                    let (plus, minus) = plusFirst ? (first, second) : (second, first)
                    let c = (plus - minus) / (2 * sigma)
                    differences.append(c)
                    total += plus + minus
                    let scale = (1 / Double(sampleCount)) * c
                    let row = z.baseAddress! + sample * d
                    for i in 0..<d { g[i] += scale * row[i] }
                }
            }
        }
        return applyPerSampleGradient(meanLoss: total / Double(2 * sampleCount))
    }
    private var batchScratch: [Double] = []

    /// Clips the per-sample estimate in `gradient`, applies it, and records the step.
    private func applyPerSampleGradient(meanLoss: Double) -> StepRecord {
        let norm = gradient.withUnsafeMutableBufferPointer { clipGradient($0, maximumNorm: configuration.clipNorm) }
        let rate = learningRate
        gradient.withUnsafeBufferPointer { g in
            parameters.withUnsafeMutableBufferPointer { p in
                optimizer.apply(gradient: g, learningRate: rate, weightDecay: configuration.weightDecay, to: p)
            }
        }
        let record = StepRecord(
            step: step, differences: differences, loss: meanLoss, gradientNorm: norm, learningRate: rate,
            accepted: true)
        step += 1
        return record
    }
    private var batchLossValues: [Double] = []

    /// One step in per-sample mode: `sampleLoss(θ', s)` is sample s's loss at θ'. The B
    /// differences c_s are logged like K directions (replay regenerates rows 0..<B).
    public func step(sampleCount: Int, sampleLoss: (UnsafeBufferPointer<Double>, Int) -> Double) -> StepRecord {
        precondition(configuration.perSampleDirections && configuration.method == .pgt)
        let d = parameters.count
        let range = block ?? 0..<d
        let width = range.count
        let sigma = configuration.sigma
        let generator = DirectionGenerator(kind: configuration.directionKind, seed: configuration.seed)
        if perSampleScratch == nil || perSampleScratch!.directions.count < width {
            perSampleScratch = EstimatorScratch(directionCount: 1, dimension: d)
        }
        let scratch = perSampleScratch!
        differences.removeAll(keepingCapacity: true)
        for index in gradient.indices { gradient[index] = 0 }
        var total = 0.0
        let lower = range.lowerBound
        // Raw pointers in the loops below: they run d operations per sample, B times a step.
        let perturbed = scratch.perturbed.baseAddress!
        let z = scratch.directions.baseAddress!
        parameters.withUnsafeBufferPointer { theta in
            gradient.withUnsafeMutableBufferPointer { g in
                let base = theta.baseAddress!
                perturbed.update(from: base, count: d)
                for sample in 0..<sampleCount {
                    generator.fill(step: step, firstRow: sample, count: 1, dimension: width, into: scratch.directions)
                    for offset in 0..<width { perturbed[lower + offset] = base[lower + offset] + sigma * z[offset] }
                    let plus = sampleLoss(UnsafeBufferPointer(start: perturbed, count: d), sample)
                    for offset in 0..<width { perturbed[lower + offset] = base[lower + offset] - sigma * z[offset] }
                    let minus = sampleLoss(UnsafeBufferPointer(start: perturbed, count: d), sample)
                    let c = (plus - minus) / (2 * sigma)
                    differences.append(c)
                    total += plus + minus
                    // (1/B)·c, associated as in `PerturbativeEstimator.combine`, so replay is bit-exact.
                    let scale = (1 / Double(sampleCount)) * c
                    let gradientBase = g.baseAddress! + lower
                    for offset in 0..<width { gradientBase[offset] += scale * z[offset] }
                }
            }
        }
        return applyPerSampleGradient(meanLoss: total / Double(2 * sampleCount))
    }
    private var perSampleScratch: EstimatorScratch?

    /// Re-applies logged steps from `parameters` (which must be the state before the first
    /// record): the directions come back from the seed, the differences from the log, so the
    /// result is bit for bit what the run produced (O(d) memory, no loss evaluations).
    public func replay(_ records: [StepRecord]) {
        for record in records {
            precondition(record.step == step, "records must continue from step \(step)")
            let estimator = estimator
            let range = block ?? 0..<parameters.count
            estimator.directions.fill(
                step: step, count: record.differences.count, dimension: range.count, into: scratch.directions)
            let previous = parameters
            gradient.withUnsafeMutableBufferPointer { g in
                PerturbativeEstimator.combine(
                    differences: record.differences, directions: UnsafeBufferPointer(scratch.directions),
                    width: range.count, range: range, into: g)
                clipGradient(g, maximumNorm: configuration.clipNorm)
            }
            gradient.withUnsafeBufferPointer { g in
                parameters.withUnsafeMutableBufferPointer { p in
                    optimizer.apply(
                        gradient: g, learningRate: record.learningRate, weightDecay: configuration.weightDecay, to: p)
                }
            }
            if !record.accepted { parameters = previous }
            step += 1
        }
    }
}
