import RealModule

/// Fits the relaxation time of the rising edge of a synchronously averaged square-wave
/// response (see `RingProbe.squareWaveResponse`).
///
/// Model after the edge: w(n) = c − Δ·e^{−n/τ}. The edge is the steepest rise (circular).
/// For a fixed τ the model is linear in (c, Δ), so those come from ordinary least squares and
/// τ is the one-dimensional minimiser of the residual (variable projection), found by a coarse
/// scan and golden-section refinement. Fitting c jointly, instead of reading it off the tail
/// of a short plateau, keeps the asymptote from biasing τ. The fit starts `skip` samples after
/// the edge so the faster poles of the chain (DAC filter, video filter) have died out and the
/// slope is the slowest pole's: the ring's.
public enum RelaxationFit {
    /// τ in samples, fitted over the `highSamples` after the rising edge. Nil when the
    /// response has no decaying rise or τ lands on the edge of the searched range.
    public static func timeConstantSamples(response: [Double], highSamples: Int, skip: Int = 2) -> Double? {
        let cycle = response.count
        precondition(highSamples > skip + 3 && highSamples < cycle)
        func at(_ index: Int) -> Double { response[((index % cycle) + cycle) % cycle] }

        var edge = 0
        var steepest = -Double.infinity
        for index in 0..<cycle where at(index + 1) - at(index) > steepest {
            steepest = at(index + 1) - at(index)
            edge = index
        }
        let offsets = Array(skip..<highSamples)
        let values = offsets.map { at(edge + $0) }

        /// Residual sum of squares of the best (c, Δ) for decay time `tau`.
        func residual(_ tau: Double) -> Double {
            let basis = offsets.map { Double.exp(-Double($0) / tau) }
            let n = Double(offsets.count)
            let sumB = basis.reduce(0, +)
            let sumBB = basis.reduce(0) { $0 + $1 * $1 }
            let sumW = values.reduce(0, +)
            let sumBW = zip(basis, values).reduce(0) { $0 + $1.0 * $1.1 }
            let determinant = n * sumBB - sumB * sumB
            let c = (sumBB * sumW - sumB * sumBW) / determinant
            let slope = (n * sumBW - sumB * sumW) / determinant  // = −Δ
            return zip(basis, values).reduce(0) { total, pair in
                let error = pair.1 - (c + slope * pair.0)
                return total + error * error
            }
        }

        // Coarse logarithmic scan for the basin, then golden-section refinement.
        let lowest = 0.1
        let highest = 5.0 * Double(highSamples)
        let grid = (0...200).map { lowest * Double.pow(highest / lowest, Double($0) / 200) }
        let best = grid.indices.min { residual(grid[$0]) < residual(grid[$1]) }!
        guard best > 0, best < grid.count - 1 else { return nil }
        var low = grid[best - 1]
        var high = grid[best + 1]
        let ratio = (5.0.squareRoot() - 1) / 2
        for _ in 0..<60 {
            let left = high - ratio * (high - low)
            let right = low + ratio * (high - low)
            if residual(left) < residual(right) { high = right } else { low = left }
        }
        let tau = (low + high) / 2
        // The rise must actually decay toward a higher level.
        let basisFirst = Double.exp(-Double(offsets[0]) / tau)
        guard values.last! > values.first!, basisFirst > 0 else { return nil }
        return tau
    }
}
