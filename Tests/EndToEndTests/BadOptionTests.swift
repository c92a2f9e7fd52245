import Foundation
import ReservoirTesting
import Testing

/// Numeric options that once trapped or were taken silently (issue 12): each is refused with
/// exit status 64 and one line that names the option and the range expected, before anything
/// is allocated. (The start of issue 12's bad-input corpus; board, calibration and CSV inputs
/// are still to come.)
@Suite struct BadOptionTests {
    @Test(arguments: [
        (["train", "--lr", "nan"], "--lr"), (["train", "--sigma", "inf"], "--sigma"),
        (["train", "--weight-decay", "nan"], "--weight-decay"), (["train", "--hidden", "1000000000"], "--hidden"),
        (["train", "--directions", "1000000000"], "--directions"), (["train", "--lr=-1"], "--lr"),
        (["train", "--model", "ring", "--readout-lr", "nan"], "--readout-lr"),
        (["train", "--model", "ring", "--nodes", "1000000000"], "--nodes"), (["train", "--batch", "0"], "--batch"),
        (["train", "--clip-norm=-inf"], "--clip-norm"), (["train", "--beta1", "1"], "--beta1"),
        (["train", "--threads", "100000"], "--threads"),
        (["run", "--inject", "interlock@1e300"], "--inject"), (["run", "--inject", "interlock@nan"], "--inject"),
        (["twin", "serve", "--port", "70000"], "--port"), (["twin", "serve", "--bind", "0.0.0.0"], "--allow-remote"),
    ])
    func aBadNumericOptionGetsOneLineAndExit64(arguments: [String], names option: String) throws {
        let outcome = try CommandRunner.ringlab(arguments)
        #expect(outcome.status == 64, "\(arguments): \(outcome.standardError)")
        let lines = outcome.standardError.split(separator: "\n").filter { !$0.hasPrefix("Usage") && !$0.hasPrefix("  See") }
        #expect(lines.count == 1, "\(arguments): \(outcome.standardError)")
        #expect(outcome.standardError.contains(option), "\(arguments): \(outcome.standardError)")
    }
}
