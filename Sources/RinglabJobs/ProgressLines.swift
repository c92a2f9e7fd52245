import Foundation
import ReservoirTraining

/// A training run's progress on stderr: the σ calibration, a line per evaluation and, on a
/// terminal, a bar updated at most twice a second.
public enum ProgressLines {
    public static func training(metric: Metric) -> (TrainingProgress) -> Void {
        var budget = 0
        let terminal = isatty(STDERR_FILENO) != 0
        let started = Date()
        var lastBar = Date.distantPast
        func write(_ text: String) { FileHandle.standardError.write(Data(text.utf8)) }
        func remaining(_ fraction: Double) -> Double {
            fraction > 0 ? Date().timeIntervalSince(started) * max(1 - fraction, 0) / fraction : 0
        }
        return { event in
            switch event {
            case .started(let passes):
                budget = passes
            case .calibrated(let sigma, let noise, let difference, let pilot):
                write(
                    String(
                        format: "train: σ calibrated on the board: %.4g (loss noise %.3g, pilot |ΔL| %.3g at σ₀ %g)\n",
                        sigma, noise, difference, pilot))
            case .step(_, let passes, let loss):
                guard terminal, Date().timeIntervalSince(lastBar) > 0.5 else { return }
                lastBar = Date()
                let fraction = Double(passes) / Double(max(budget, 1))
                let filled = min(Int(fraction * 30), 30)
                write(
                    "\r" + String(repeating: "█", count: filled) + String(repeating: "·", count: 30 - filled)
                        + String(
                            format: " %5.1f%%  passes %d  loss %.4f  ETA %.0f s ", 100 * fraction, passes, loss,
                            remaining(fraction)))
            case .evaluation(let evaluation):
                let fraction = budget > 0 ? Double(evaluation.forwardPasses) / Double(budget) : 1
                let device = evaluation.deviceSeconds.map { String(format: "  device %.1f s", $0) } ?? ""
                write(
                    (terminal ? "\r" : "")
                        + String(
                            format: "train: %5.1f%%  step %d  passes %d%@  loss %.4f  train %@ %.4f  test %@ %.4f  ETA %.0f s\n",
                            100 * min(fraction, 1), evaluation.step, evaluation.forwardPasses, device,
                            evaluation.trainLoss, metric.rawValue, evaluation.trainMetric, metric.rawValue,
                            evaluation.testMetric, remaining(fraction)))
            }
        }
    }
}
