import RealModule

/// Fits the relaxation time of the rising edge of a synchronously averaged square-wave
/// response (see `RingProbe.squareWaveResponse`).
///
/// Model after the edge: w(n) = w_∞ − Δ·e^{−n/τ}. The edge is the steepest rise (circular);
/// w_∞ is the mean of the second half of the high plateau; τ comes from a weighted
/// least-squares line through ln(w_∞ − w(n)) for n from `skip` samples after the edge,
/// weights (w_∞ − w)², which equalize the noise of the logarithm (var ln y ≈ σ²/y²).
/// Starting `skip` samples late lets the faster poles of the chain (DAC filter, video filter)
/// die out, so the slope is the slowest pole's: the ring's.
public enum RelaxationFit {
    /// τ in samples. Returns nil when fewer than three usable points follow the edge.
    public static func timeConstantSamples(response: [Double], halfCycle: Int, skip: Int = 2) -> Double? {
        let cycle = response.count
        precondition(cycle == 2 * halfCycle && halfCycle >= 8)
        func at(_ index: Int) -> Double { response[((index % cycle) + cycle) % cycle] }

        var edge = 0
        var steepest = -Double.infinity
        for index in 0..<cycle where at(index + 1) - at(index) > steepest {
            steepest = at(index + 1) - at(index)
            edge = index
        }
        var plateau = 0.0
        for offset in (halfCycle / 2)..<halfCycle { plateau += at(edge + offset) }
        plateau /= Double(halfCycle - halfCycle / 2)

        var sw = 0.0, swx = 0.0, swy = 0.0, swxx = 0.0, swxy = 0.0
        var points = 0
        for n in skip..<(halfCycle / 2) {
            let gap = plateau - at(edge + n)
            guard gap > 0 else { break }
            let weight = gap * gap
            let x = Double(n)
            let y = Double.log(gap)
            sw += weight
            swx += weight * x
            swy += weight * y
            swxx += weight * x * x
            swxy += weight * x * y
            points += 1
        }
        guard points >= 3 else { return nil }
        let slope = (sw * swxy - swx * swy) / (sw * swxx - swx * swx)
        guard slope < 0 else { return nil }
        return -1 / slope
    }
}
