import RealModule

/// How a gradient estimate becomes a parameter step.
public enum OptimizerKind: String, Sendable, Codable, CaseIterable {
    case sgd, momentum, adam
}

/// SGD, heavy-ball momentum (β = 0.9) and Adam (β₁ = 0.9, β₂ = 0.999, ε = 1e-8), with their
/// state kept here so a checkpoint can save and restore it exactly.
public struct Optimizer: Sendable, Codable, Equatable {
    public var kind: OptimizerKind
    /// β₁, the decay of Adam's first moment (and of momentum's velocity). 0.9 by default.
    public var firstMomentDecay = 0.9
    public var firstMoment: [Double]
    public var secondMoment: [Double]
    public var steps: Int = 0

    public init(kind: OptimizerKind, dimension: Int, firstMomentDecay: Double = 0.9) {
        self.kind = kind
        self.firstMomentDecay = firstMomentDecay
        firstMoment = [Double](repeating: 0, count: kind == .sgd ? 0 : dimension)
        secondMoment = [Double](repeating: 0, count: kind == .adam ? dimension : 0)
    }

    /// θ ← θ − lr·(update(g) + λθ), λ the decoupled weight decay (AdamW's; 0 by default).
    ///   sgd: g;  momentum: m ← 0.9m + g, step m;
    ///   adam: m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², step m̂/(√v̂ + ε) with bias corrections.
    public mutating func apply(
        gradient: UnsafeBufferPointer<Double>, learningRate: Double, weightDecay: Double = 0,
        to parameters: UnsafeMutableBufferPointer<Double>
    ) {
        steps += 1
        if weightDecay != 0 {
            // Decay first, from the parameters before this step's update (AdamW).
            let shrink = 1 - learningRate * weightDecay
            for i in parameters.indices { parameters[i] *= shrink }
        }
        switch kind {
        case .sgd:
            for i in parameters.indices { parameters[i] -= learningRate * gradient[i] }
        case .momentum:
            for i in parameters.indices {
                firstMoment[i] = firstMomentDecay * firstMoment[i] + gradient[i]
                parameters[i] -= learningRate * firstMoment[i]
            }
        case .adam:
            let beta1 = firstMomentDecay
            let beta2 = 0.999
            let correction1 = 1 - Double.pow(beta1, Double(steps))
            let correction2 = 1 - Double.pow(beta2, Double(steps))
            for i in parameters.indices {
                let g = gradient[i]
                firstMoment[i] = beta1 * firstMoment[i] + (1 - beta1) * g
                secondMoment[i] = beta2 * secondMoment[i] + (1 - beta2) * g * g
                let mHat = firstMoment[i] / correction1
                let vHat = secondMoment[i] / correction2
                parameters[i] -= learningRate * mHat / (vHat.squareRoot() + 1e-8)
            }
        }
    }
}

/// Learning-rate schedules over a run of `totalSteps`.
public enum Schedule: Sendable, Equatable, Codable {
    case constant
    /// lr·½(1 + cos(π·t/T)).
    case cosine
    /// lr·factor^⌊t/every⌋.
    case step(every: Int, factor: Double)

    public func rate(base: Double, step: Int, totalSteps: Int) -> Double {
        switch self {
        case .constant: return base
        case .cosine:
            let progress = Double(min(step, totalSteps)) / Double(max(totalSteps, 1))
            return base * 0.5 * (1 + Double.cos(.pi * progress))
        case .step(let every, let factor): return base * Double.pow(factor, Double(step / max(every, 1)))
        }
    }
}

/// Scales `gradient` so its norm is at most `maximum`; returns the norm before clipping.
@discardableResult
public func clipGradient(_ gradient: UnsafeMutableBufferPointer<Double>, maximumNorm maximum: Double?) -> Double {
    var squared = 0.0
    for value in gradient { squared += value * value }
    let norm = squared.squareRoot()
    if let maximum, norm > maximum {
        let scale = maximum / norm
        for i in gradient.indices { gradient[i] *= scale }
    }
    return norm
}

/// Spall's SPSA gain sequences: a_k = a/(k + 1 + A)^0.602, c_k = c/(k + 1)^0.101.
public struct SPSAGains: Sendable, Equatable, Codable {
    public var a: Double
    public var c: Double
    public var stability: Double  // A

    public init(a: Double, c: Double, stability: Double) {
        self.a = a
        self.c = c
        self.stability = stability
    }

    public func stepSize(_ k: Int) -> Double { a / Double.pow(Double(k) + 1 + stability, 0.602) }
    public func perturbation(_ k: Int) -> Double { c / Double.pow(Double(k) + 1, 0.101) }
}

/// σ calibration (docs/pgt.md): choose σ so that the typical two-sided difference
/// |L(θ+σz) − L(θ−σz)| is `multiple` times the standard deviation s_L of L at fixed θ.
/// For Gaussian z, |L(θ+σz) − L(θ−σz)| ≈ 2σ|∇L·z| and E|∇L·z| = ‖∇L‖·√(2/π), so with the
/// mean |difference| D₀ measured at a pilot σ₀ (giving the slope D₀/σ₀):
/// σ = multiple·s_L·σ₀/D₀.
public func calibratedSigma(
    noiseStandardDeviation: Double, pilotSigma: Double, meanPilotDifference: Double, multiple: Double
) -> Double {
    multiple * noiseStandardDeviation * pilotSigma / meanPilotDifference
}

/// Measures what σ calibration needs and returns the calibrated σ: s_L from `repeats`
/// evaluations at θ (the objective's own noise: a new batch or a new measurement each call),
/// and the mean two-sided |difference| over `pilotDirections` Gaussian directions at σ₀.
public func calibrateSigma(
    loss: (UnsafeBufferPointer<Double>) -> Double, parameters: UnsafeBufferPointer<Double>, repeats: Int,
    pilotSigma: Double, pilotDirections: Int, multiple: Double, seed: UInt64
) -> (sigma: Double, noise: Double, meanDifference: Double) {
    let d = parameters.count
    return calibrateSigma(
        losses: { vectors, values in
            for index in values.indices {
                values[index] = loss(UnsafeBufferPointer(rebasing: vectors[(index * d)..<((index + 1) * d)]))
            }
        }, parameters: parameters, repeats: repeats, pilotSigma: pilotSigma, pilotDirections: pilotDirections,
        multiple: multiple, seed: seed)
}

/// `calibrateSigma` with every evaluation handed over at once (rows of d, in order: θ
/// `repeats` times, then θ + σ₀z_k, θ − σ₀z_k for each pilot direction), so a device can
/// stream them back to back.
public func calibrateSigma<Failure: Error>(
    losses: (UnsafeBufferPointer<Double>, UnsafeMutableBufferPointer<Double>) throws(Failure) -> Void,
    parameters: UnsafeBufferPointer<Double>, repeats: Int, pilotSigma: Double, pilotDirections: Int,
    multiple: Double, seed: UInt64
) throws(Failure) -> (sigma: Double, noise: Double, meanDifference: Double) {
    let d = parameters.count
    let count = repeats + 2 * pilotDirections
    var directions = [Double](repeating: 0, count: pilotDirections * d)
    directions.withUnsafeMutableBufferPointer { z in
        DirectionGenerator(kind: .gaussian, seed: seed).fill(
            step: 0, count: pilotDirections, dimension: d, into: z)
    }
    var vectors = [Double](repeating: 0, count: count * d)
    for row in 0..<repeats {
        for i in 0..<d { vectors[row * d + i] = parameters[i] }
    }
    for k in 0..<pilotDirections {
        for i in 0..<d {
            vectors[(repeats + 2 * k) * d + i] = parameters[i] + pilotSigma * directions[k * d + i]
            vectors[(repeats + 2 * k + 1) * d + i] = parameters[i] - pilotSigma * directions[k * d + i]
        }
    }
    var values = [Double](repeating: 0, count: count)
    try vectors.withUnsafeBufferPointer { (v) throws(Failure) in
        try values.withUnsafeMutableBufferPointer { (values) throws(Failure) in try losses(v, values) }
    }
    let atTheta = values[0..<repeats]
    let mean = atTheta.reduce(0, +) / Double(repeats)
    let noise = (atTheta.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(max(repeats - 1, 1))).squareRoot()
    var differences = 0.0
    for k in 0..<pilotDirections { differences += abs(values[repeats + 2 * k] - values[repeats + 2 * k + 1]) }
    let meanDifference = differences / Double(pilotDirections)
    return (
        calibratedSigma(
            noiseStandardDeviation: noise, pilotSigma: pilotSigma, meanPilotDifference: meanDifference,
            multiple: multiple),
        noise, meanDifference
    )
}
