/// A linear readout with bias trained in closed form by ridge regression:
/// w = (XᵀX + λI)⁻¹ Xᵀy, X the states with a column of ones appended (the bias is regularized
/// with the rest, as in the task definitions' reference implementations).
public struct RidgeReadout: Sendable {
    /// Weights, the bias last.
    public var weights: [Double]

    /// The regularization strengths tried (docs/tasks.md).
    public static let candidateLambdas: [Double] = [1e-8, 1e-6, 1e-4, 1e-2, 1]

    /// The prediction for one state row.
    public func predict(_ state: ArraySlice<Double>) -> Double {
        var sum = weights[weights.count - 1]
        for (weight, value) in zip(weights, state) { sum += weight * value }
        return sum
    }

    /// Predictions for the rows `rows` of `states` (row-major, `width` columns).
    public func predict(states: [Double], width: Int, rows: Range<Int>) -> [Double] {
        rows.map { predict(states[($0 * width)..<(($0 + 1) * width)]) }
    }
}

/// Solves ridge problems that share one design matrix (many targets, several λ).
public struct RidgeSolver: Sendable {
    private let gram: [Double]  // XᵀX, (width+1)²
    private let width: Int
    private let states: [Double]
    private let rows: Range<Int>

    /// Prepares XᵀX for the rows `rows` of `states` (row-major, `width` columns) plus a bias.
    public init(states: [Double], width: Int, rows: Range<Int>) {
        self.states = states
        self.width = width
        self.rows = rows
        let size = width + 1
        var gram = [Double](repeating: 0, count: size * size)
        var row = [Double](repeating: 1, count: size)
        for r in rows {
            for c in 0..<width { row[c] = states[r * width + c] }
            for i in 0..<size {
                let value = row[i]
                if value == 0 { continue }
                for j in i..<size { gram[i * size + j] += value * row[j] }
            }
        }
        for i in 0..<size { for j in 0..<i { gram[i * size + j] = gram[j * size + i] } }
        self.gram = gram
    }

    /// The readout for `targets` (one per row of the prepared range) at strength `lambda`.
    public func solve(targets: [Double], lambda: Double) -> RidgeReadout {
        precondition(targets.count == rows.count)
        let size = width + 1
        var rhs = [Double](repeating: 0, count: size)
        for (offset, r) in rows.enumerated() {
            let target = targets[offset]
            for c in 0..<width { rhs[c] += states[r * width + c] * target }
            rhs[width] += target
        }
        var matrix = gram
        for i in 0..<size { matrix[i * size + i] += lambda }
        return RidgeReadout(weights: Self.choleskySolve(matrix, rhs, size: size))
    }

    /// Solves A x = b for symmetric positive definite A (Cholesky, A = LLᵀ). A tiny diagonal
    /// jitter rescues matrices made singular by rounding at λ = 1e-8.
    static func choleskySolve(_ a: [Double], _ b: [Double], size n: Int) -> [Double] {
        var jitter = 0.0
        while true {
            var l = a
            var ok = true
            for j in 0..<n {
                var diagonal = l[j * n + j] + jitter
                for k in 0..<j { diagonal -= l[j * n + k] * l[j * n + k] }
                guard diagonal > 0 else {
                    ok = false
                    break
                }
                let root = diagonal.squareRoot()
                l[j * n + j] = root
                for i in (j + 1)..<n {
                    var value = l[i * n + j]
                    for k in 0..<j { value -= l[i * n + k] * l[j * n + k] }
                    l[i * n + j] = value / root
                }
            }
            if ok {
                var y = b
                for i in 0..<n {
                    for k in 0..<i { y[i] -= l[i * n + k] * y[k] }
                    y[i] /= l[i * n + i]
                }
                for i in stride(from: n - 1, through: 0, by: -1) {
                    for k in (i + 1)..<n { y[i] -= l[k * n + i] * y[k] }
                    y[i] /= l[i * n + i]
                }
                return y
            }
            jitter = jitter == 0 ? 1e-12 * max(a[0], 1) : jitter * 10
        }
    }
}

/// Trains a readout the way docs/tasks.md prescribes: λ chosen on the last `validation`
/// training rows (lowest mean squared error), then retrained on all training rows.
public func trainReadout(
    states: [Double], width: Int, targets: [Double], trainRows: Range<Int>, validationCount: Int = 500
) -> RidgeReadout {
    let fitRows = trainRows.lowerBound..<(trainRows.upperBound - validationCount)
    let validationRows = fitRows.upperBound..<trainRows.upperBound
    let solver = RidgeSolver(states: states, width: width, rows: fitRows)
    let fitTargets = Array(targets[fitRows])
    var bestLambda = RidgeReadout.candidateLambdas[0]
    var bestError = Double.infinity
    for lambda in RidgeReadout.candidateLambdas {
        let readout = solver.solve(targets: fitTargets, lambda: lambda)
        let predictions = readout.predict(states: states, width: width, rows: validationRows)
        var error = 0.0
        for (prediction, row) in zip(predictions, validationRows) {
            error += (prediction - targets[row]) * (prediction - targets[row])
        }
        if error < bestError {
            bestError = error
            bestLambda = lambda
        }
    }
    return RidgeSolver(states: states, width: width, rows: trainRows)
        .solve(targets: Array(targets[trainRows]), lambda: bestLambda)
}
