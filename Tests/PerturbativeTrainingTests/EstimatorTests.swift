import Foundation
import NeuralNet
import PerturbativeTraining
import SeededRandom
import Testing

/// Means of many estimates, for unbiasedness checks.
func meanEstimate(
    kind: DirectionKind, directionCount: Int, draws: Int, sigma: Double, sides: PerturbativeEstimator.Sides = .two,
    parameters: [Double], loss: (UnsafeBufferPointer<Double>) -> Double
) -> [Double] {
    let d = parameters.count
    let estimator = PerturbativeEstimator(
        directions: DirectionGenerator(kind: kind, seed: 17), directionCount: directionCount, sigma: sigma, sides: sides
    )
    let scratch = EstimatorScratch(directionCount: directionCount, dimension: d)
    var gradient = [Double](repeating: 0, count: d)
    var sum = [Double](repeating: 0, count: d)
    var differences: [Double] = []
    for step in 0..<draws {
        parameters.withUnsafeBufferPointer { p in
            gradient.withUnsafeMutableBufferPointer { g in
                estimator.estimate(
                    step: step, parameters: p, loss: loss, scratch: scratch, gradient: g, differences: &differences)
            }
        }
        for i in 0..<d { sum[i] += gradient[i] }
    }
    return sum.map { $0 / Double(draws) }
}

@Suite struct EstimatorTests {
    // f(θ) = ½θᵀAθ + bᵀθ with A diagonal: ∇f = Aθ + b. For a quadratic the two-sided
    // difference is exactly zᵀ∇f, so ĝ = zzᵀ∇f and E[ĝ] = ∇f whenever E[zzᵀ] = I.
    static let a: [Double] = [1, 2, 0.5, 3, 1.5, 0.7, 2.2, 0.9]
    static let b: [Double] = [0.3, -0.2, 0.1, 0.5, -0.4, 0.2, 0.0, -0.1]
    static let theta: [Double] = [1, -1, 0.5, 0.2, -0.3, 0.8, -0.6, 0.4]
    static func quadratic(_ p: UnsafeBufferPointer<Double>) -> Double {
        var value = 0.0
        for i in 0..<a.count { value += 0.5 * a[i] * p[i] * p[i] + b[i] * p[i] }
        return value
    }
    static var trueGradient: [Double] { (0..<a.count).map { a[$0] * theta[$0] + b[$0] } }

    @Test(arguments: [DirectionKind.gaussian, .rademacher, .sparse(fraction: 0.5), .orthogonal])
    func theMeanEstimateOnAQuadraticIsTheGradient(kind: DirectionKind) {
        let draws = 20_000
        let mean = meanEstimate(
            kind: kind, directionCount: 4, draws: draws, sigma: 0.1, parameters: Self.theta, loss: Self.quadratic)
        let g = Self.trueGradient
        let norm2 = g.reduce(0) { $0 + $1 * $1 }
        for i in g.indices {
            // Var[(zzᵀg)_i] ≤ ‖g‖² + 2g_i² for these distributions (Gaussian: ‖g‖² + g_i²;
            // sparse adds the 1/fraction kurtosis term g_i²(1/p − 1)); over K·N = 8e4 draws the
            // mean's standard error is at most √((‖g‖² + 2g_i²)/8e4); 5 of them.
            let tolerance = 5 * ((norm2 + 2 * g[i] * g[i]) / Double(4 * draws)).squareRoot()
            #expect(abs(mean[i] - g[i]) < tolerance, "coordinate \(i): \(mean[i]) vs \(g[i])")
        }
    }

    @Test func oneSidedEstimatesAreUnbiasedToOrderSigma() {
        // One-sided: c = zᵀg + ½σ zᵀAz; E[ĝ] = g + ½σ·E[z zᵀAz] = g + O(σ); σ = 1e-3 makes the
        // bias ≤ 1e-3·(trace A + 2 max A) ≈ 0.02, below the statistical tolerance.
        let draws = 20_000
        let mean = meanEstimate(
            kind: .gaussian, directionCount: 4, draws: draws, sigma: 1e-3, sides: .one, parameters: Self.theta,
            loss: Self.quadratic)
        let g = Self.trueGradient
        let norm2 = g.reduce(0) { $0 + $1 * $1 }
        for i in g.indices {
            let tolerance = 5 * ((norm2 + g[i] * g[i]) / Double(4 * draws)).squareRoot() + 0.02
            #expect(abs(mean[i] - g[i]) < tolerance)
        }
    }

    @Test func onASmallNetworkTheMeanEstimateIsTheBackpropGradient() {
        let network = DenseNetwork(widths: [5, 4, 3], activations: [.tanh, .identity], loss: .softmaxCrossEntropy)
        let parameters = network.initialParameters(seed: 2)
        var random = Xoshiro256StarStar(seed: 4)
        let inputs = (0..<(8 * 5)).map { _ in 2 * random.nextUnitInterval() - 1 }
        let labels = (0..<8).map { $0 % 3 }
        let workspace = NetworkWorkspace(network: network, capacity: 8)
        var exact = [Double](repeating: 0, count: network.parameterCount)
        inputs.withUnsafeBufferPointer { x in
            labels.withUnsafeBufferPointer { y in
                let batch = Batch(inputs: x, labels: y, count: 8)
                _ = parameters.withUnsafeBufferPointer { p in
                    exact.withUnsafeMutableBufferPointer { g in
                        network.lossAndGradient(parameters: p, batch: batch, workspace: workspace, gradient: g)
                    }
                }
                let draws = 20_000
                // σ = 1e-3: the two-sided bias is O(σ²·f''') ≈ 1e-6, far below the tolerance.
                let mean = meanEstimate(
                    kind: .gaussian, directionCount: 1, draws: draws, sigma: 1e-3, parameters: parameters
                ) { p in
                    network.loss(parameters: p, batch: batch, workspace: workspace)
                }
                let norm2 = exact.reduce(0) { $0 + $1 * $1 }
                for i in exact.indices {
                    let tolerance = 5 * ((norm2 + exact[i] * exact[i]) / Double(draws)).squareRoot()
                    #expect(abs(mean[i] - exact[i]) < tolerance, "parameter \(i)")
                }
            }
        }
    }

    @Test func directionsDependOnlyOnSeedStepAndK() {
        let generator = DirectionGenerator(kind: .gaussian, seed: 9)
        var first = [Double](repeating: 0, count: 30)
        var again = [Double](repeating: 0, count: 30)
        first.withUnsafeMutableBufferPointer { generator.fill(step: 5, count: 3, dimension: 10, into: $0) }
        again.withUnsafeMutableBufferPointer { generator.fill(step: 5, count: 3, dimension: 10, into: $0) }
        #expect(first == again)
        var other = [Double](repeating: 0, count: 30)
        other.withUnsafeMutableBufferPointer { generator.fill(step: 6, count: 3, dimension: 10, into: $0) }
        #expect(first != other)
    }

    @Test func orthogonalDirectionsAreOrthogonalWithNormRootD() {
        var rows = [Double](repeating: 0, count: 4 * 12)
        rows.withUnsafeMutableBufferPointer {
            DirectionGenerator(kind: .orthogonal, seed: 1).fill(step: 0, count: 4, dimension: 12, into: $0)
        }
        for i in 0..<4 {
            for j in 0..<4 {
                let dot = (0..<12).reduce(0) { $0 + rows[i * 12 + $1] * rows[j * 12 + $1] }
                #expect(abs(dot - (i == j ? 12 : 0)) < 1e-9)
            }
        }
    }

    @Test func theEvaluationOrderAlternatesPlusMinusMinusPlus() {
        var signs: [Double] = []
        let estimator = PerturbativeEstimator(
            directions: DirectionGenerator(kind: .rademacher, seed: 1), directionCount: 4, sigma: 1)
        let scratch = EstimatorScratch(directionCount: 4, dimension: 1)
        var gradient = [0.0]
        var differences: [Double] = []
        let parameters = [0.0]
        parameters.withUnsafeBufferPointer { p in
            gradient.withUnsafeMutableBufferPointer { g in
                estimator.estimate(
                    step: 0, parameters: p,
                    loss: { q in
                        signs.append(q[0] * scratch.directions[signs.count / 2] > 0 ? 1 : -1)
                        return q[0]
                    }, scratch: scratch, gradient: g, differences: &differences)
            }
        }
        #expect(signs == [1, -1, -1, 1, 1, -1, -1, 1])
        #expect(estimator.forwardPassesPerStep == 8)
    }

    /// With one direction per step the pairs alternate from step to step: (+,−), (−,+), (+,−)…
    /// as handed over to a device that evaluates a step's vectors together.
    @Test func withOneDirectionTheOrderAlternatesFromStepToStep() {
        let estimator = PerturbativeEstimator(
            directions: DirectionGenerator(kind: .rademacher, seed: 1), directionCount: 1, sigma: 1)
        let scratch = EstimatorScratch(directionCount: 1, dimension: 1)
        var gradient = [0.0]
        var differences: [Double] = []
        var firstSigns: [Double] = []
        for step in 0..<4 {
            [0.0].withUnsafeBufferPointer { p in
                gradient.withUnsafeMutableBufferPointer { g in
                    estimator.estimate(
                        step: step, parameters: p,
                        losses: { vectors, values in
                            #expect(vectors.count == 2 && values.count == 2)
                            firstSigns.append(vectors[0] * scratch.directions[0] > 0 ? 1 : -1)
                            #expect(vectors[1] == -vectors[0])
                            values[0] = vectors[0]
                            values[1] = vectors[1]
                        }, scratch: scratch, gradient: g, differences: &differences)
                }
            }
            // L(θ) = θ: c = [L(σz) − L(−σz)]/(2σ) = z whatever the order.
            #expect(differences == [scratch.directions[0]])
        }
        #expect(firstSigns == [1, -1, 1, -1])
    }
}

@Suite struct SigmaCalibrationTests {
    @Test func picksTheDocumentedSigmaOnASyntheticObjective() {
        // L(θ) = g·θ + ε, ε ~ N(0, s²) fresh on every evaluation, ‖g‖ = 2, s = 0.01. The typical
        // difference at σ is 2σ‖g‖√(2/π) (plus noise), so for `multiple` m the documented
        // σ* = m·s/(2‖g‖√(2/π)) = 10·0.01/(2·2·0.7979) = 0.03133.
        let g: [Double] = [1.2, -0.8, 0.4, 1.2, 0.0, -0.8]  // ‖g‖ = 2
        var noise = GaussianSource(seed: 5)
        let loss: (UnsafeBufferPointer<Double>) -> Double = { p in
            var value = 0.0
            for i in 0..<g.count { value += g[i] * p[i] }
            return value + 0.01 * noise.next()
        }
        let theta = [Double](repeating: 0.5, count: 6)
        let result = theta.withUnsafeBufferPointer { p in
            calibrateSigma(
                loss: loss, parameters: p, repeats: 2000, pilotSigma: 1, pilotDirections: 4000, multiple: 10, seed: 3)
        }
        let expected = 10 * 0.01 / (2 * 2 * (2 / Double.pi).squareRoot())
        // 5 %: s is estimated from 2000 draws (1.6 % standard error), the pilot mean from 4000
        // |N(0, 4‖g‖²)| draws (1.2 %), and the noise adds 0.01² on 4² in the pilot (negligible).
        #expect(abs(result.noise - 0.01) / 0.01 < 0.05)
        #expect(abs(result.sigma - expected) / expected < 0.05)
    }
}
