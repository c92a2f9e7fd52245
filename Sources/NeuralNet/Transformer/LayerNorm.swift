import Foundation

/// Layer normalization over each token's width d (Ba, Kiros & Hinton 2016):
///
///   x̂ = (x − μ)/√(σ² + ε),  y = γ ⊙ x̂ + β,   μ, σ² the mean and variance of the token's d values.
///
/// Backward, with ĝ = γ ⊙ dy:  dx = (ĝ − mean(ĝ) − x̂·mean(ĝ ⊙ x̂)) / √(σ² + ε),
/// dγ = Σ dy ⊙ x̂, dβ = Σ dy. Parameters: γ (d, starting at 1) then β (d, starting at 0).
final class LayerNorm {
    static let epsilon = 1e-5
    let width: Int
    private var normalized: [Double]
    private var inverseDeviation: [Double]

    init(width: Int, capacity rows: Int) {
        self.width = width
        normalized = [Double](repeating: 0, count: rows * width)
        inverseDeviation = [Double](repeating: 0, count: rows)
    }

    var parameterCount: Int { 2 * width }

    func initialize(_ parameters: UnsafeMutableBufferPointer<Double>) {
        for j in 0..<width {
            parameters[j] = 1
            parameters[width + j] = 0
        }
    }

    /// y = LN(x) for `rows` tokens; keeps x̂ and 1/σ for the backward pass.
    func forward(_ parameters: UnsafePointer<Double>, _ x: UnsafePointer<Double>, rows: Int, into y: UnsafeMutablePointer<Double>) {
        let d = width
        normalized.withUnsafeMutableBufferPointer { xh in
            inverseDeviation.withUnsafeMutableBufferPointer { inv in
                for row in 0..<rows {
                    let line = x + row * d
                    var mean = 0.0
                    for j in 0..<d { mean += line[j] }
                    mean /= Double(d)
                    var variance = 0.0
                    for j in 0..<d { variance += (line[j] - mean) * (line[j] - mean) }
                    let inverse = 1 / (variance / Double(d) + Self.epsilon).squareRoot()
                    inv[row] = inverse
                    for j in 0..<d {
                        let value = (line[j] - mean) * inverse
                        xh[row * d + j] = value
                        y[row * d + j] = parameters[j] * value + parameters[d + j]
                    }
                }
            }
        }
    }

    /// Adds dγ, dβ to `gradient` and writes (or, with `accumulate`, adds) dx.
    func backward(
        _ parameters: UnsafePointer<Double>, outputGradient dy: UnsafePointer<Double>, rows: Int,
        gradient: UnsafeMutablePointer<Double>, inputGradient dx: UnsafeMutablePointer<Double>, accumulate: Bool
    ) {
        let d = width
        normalized.withUnsafeBufferPointer { xh in
            inverseDeviation.withUnsafeBufferPointer { inv in
                for row in 0..<rows {
                    var meanG = 0.0
                    var meanGX = 0.0
                    for j in 0..<d {
                        let g = parameters[j] * dy[row * d + j]
                        meanG += g
                        meanGX += g * xh[row * d + j]
                        gradient[j] += dy[row * d + j] * xh[row * d + j]
                        gradient[d + j] += dy[row * d + j]
                    }
                    meanG /= Double(d)
                    meanGX /= Double(d)
                    for j in 0..<d {
                        let g = parameters[j] * dy[row * d + j]
                        let value = (g - meanG - xh[row * d + j] * meanGX) * inv[row]
                        if accumulate { dx[row * d + j] += value } else { dx[row * d + j] = value }
                    }
                }
            }
        }
    }
}
