import Foundation
import ReservoirBenchmarks
import Testing

@Suite struct RidgeReadoutTests {
    @Test func recoversAnExactLinearMapWithBias() {
        // y = 2·x0 − 3·x1 + 0.5 exactly; at λ = 1e-8 the solution is the least-squares one to
        // within λ·‖w‖/σ² ≈ 1e-8.
        var states: [Double] = []
        var targets: [Double] = []
        for k in 0..<200 {
            let x0 = sin(Double(k) * 0.37)
            let x1 = cos(Double(k) * 0.11)
            states += [x0, x1]
            targets.append(2 * x0 - 3 * x1 + 0.5)
        }
        let readout = RidgeSolver(states: states, width: 2, rows: 0..<200).solve(targets: targets, lambda: 1e-8)
        #expect(abs(readout.weights[0] - 2) < 1e-6)
        #expect(abs(readout.weights[1] + 3) < 1e-6)
        #expect(abs(readout.weights[2] - 0.5) < 1e-6)
    }

    @Test func matchesTheClosedFormOfOneFeatureWithRegularization() {
        // With one feature x and the bias b (both regularized): the normal equations are
        // [Σx²+λ, Σx; Σx, n+λ]·[w; b] = [Σxy; Σy]; solved by Cramer's rule here.
        let xs: [Double] = [0.1, 0.5, 0.9, 1.4, 2.0]
        let ys: [Double] = [1.0, 1.7, 2.1, 3.3, 4.2]
        let lambda = 0.3
        let sxx = xs.reduce(0) { $0 + $1 * $1 } + lambda
        let sx = xs.reduce(0, +)
        let n = Double(xs.count) + lambda
        let sxy = zip(xs, ys).reduce(0) { $0 + $1.0 * $1.1 }
        let sy = ys.reduce(0, +)
        let determinant = sxx * n - sx * sx
        let w = (sxy * n - sx * sy) / determinant
        let b = (sxx * sy - sx * sxy) / determinant
        let readout = RidgeSolver(states: xs, width: 1, rows: 0..<5).solve(targets: ys, lambda: lambda)
        #expect(abs(readout.weights[0] - w) < 1e-12)
        #expect(abs(readout.weights[1] - b) < 1e-12)
    }

    @Test func squaredCorrelationIsOneForAffineSeriesAndZeroForConstant() {
        #expect(abs(TaskScore.squaredCorrelation([1, 2, 3, 4], [3, 5, 7, 9]) - 1) < 1e-15)
        #expect(TaskScore.squaredCorrelation([1, 2, 3], [5, 5, 5]) == 0)
    }
}

@Suite struct TaskDefinitionTests {
    @Test func aPerfectShiftRegisterHasFullMemoryAndParityCapacityIsZeroForIt() {
        // States holding the last 25 inputs: STM = 20 exactly (each u(k − d) is a state);
        // parity of ≥ 2 bits is not linear in the bits, so a linear readout gets r² ≈ 0 for
        // d ≥ 1 (PC counts d = 1…20).
        let data = TaskData.make(.stm, seed: 3)
        var states = [Double](repeating: 0, count: data.inputs.count * 25)
        for k in data.inputs.indices {
            for j in 0..<25 where k >= j { states[k * 25 + j] = data.inputs[k - j] }
        }
        #expect(abs(TaskScore.score(.stm, data: data, states: states, width: 25) - 20) < 1e-6)
        let parity = TaskData.make(.pc, seed: 3)
        var parityStates = [Double](repeating: 0, count: parity.inputs.count * 25)
        for k in parity.inputs.indices {
            for j in 0..<25 where k >= j { parityStates[k * 25 + j] = parity.inputs[k - j] }
        }
        #expect(TaskScore.score(.pc, data: parity, states: parityStates, width: 25) < 0.2)
    }

    @Test func paritySequencesFollowTheirDefinition() {
        let data = TaskData.make(.pc, seed: 5)
        for k in 300..<320 {
            let expected = (0...3).reduce(0) { $0 + Int(data.inputs[k - $1]) } % 2
            #expect(data.targets[2][k] == Double(expected))  // d = 3: u(k) ⊕ … ⊕ u(k − 3)
        }
    }

    @Test func narmaFollowsItsRecursion() {
        let data = TaskData.make(.narma10, seed: 7)
        #expect(data.inputs.count == 3200)
        #expect(data.inputs.allSatisfy { $0 >= 0 && $0 <= 0.5 })
        // target[k] = y(k+1); recompute y(k+1) from y(k−9…k) and u(k−9), u(k).
        let y = data.targets[0]
        for k in 20..<40 {
            let window = (0...9).reduce(0) { $0 + y[k - 1 - $1] }
            let next = 0.3 * y[k - 1] + 0.05 * y[k - 1] * window + 1.5 * data.inputs[k - 9] * data.inputs[k] + 0.1
            #expect(abs(y[k] - next) < 1e-12)
        }
    }

    @Test func sineSquareWaveformsAreEightSamplesLong() {
        let data = TaskData.make(.sineSquare, seed: 9)
        #expect(data.inputs.count == 2400)
        for period in 0..<300 {
            let samples = Array(data.inputs[(period * 8)..<(period * 8 + 8)])
            if data.targets[0][period * 8] == 1 {
                #expect(
                    zip(samples, (0..<8).map { sin(2 * Double.pi * Double($0) / 8) }).allSatisfy {
                        abs($0 - $1) < 1e-12
                    })
            } else {
                #expect(samples == [1, 1, 1, 1, -1, -1, -1, -1])
            }
        }
        #expect(data.trainRows == 16..<1200)
        #expect(data.testRows == 1200..<2400)
    }
}
