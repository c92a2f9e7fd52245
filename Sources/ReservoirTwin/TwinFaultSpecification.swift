/// A fault to inject at a time, written `FAULT@SECONDS` (`ringlab run --inject interlock@2`).
public struct TwinFaultSpecification: Sendable {
    public var fault: TwinFault
    public var seconds: Double

    /// A specification that cannot be read: what was found and what was expected.
    public struct Problem: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    public init(_ text: String) throws(Problem) {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, let seconds = Double(parts[1]), seconds >= 0, seconds <= 86_400 else {
            throw Problem(description: "expected FAULT@SECONDS with 0 ≤ SECONDS ≤ 86400, e.g. interlock@2; found \(text)")
        }
        self.seconds = seconds
        switch parts[0] {
        case "interlock": fault = .interlock
        case "adc-dropout": fault = .adcDropout(duration: .milliseconds(50))
        case "adc-stuck": fault = .adcStuck
        case "adc-saturated": fault = .adcSaturated
        case "dac-failure": fault = .dacFailure
        case "amp-failure": fault = .amplifierFailure
        case "gain-jump": fault = .gainJump(size: 0.01)
        case "extra-noise": fault = .extraNoise(factor: 10)
        default:
            throw Problem(
                description: "unknown fault \(parts[0]); expected one of \(TwinFault.names.joined(separator: ", "))")
        }
    }
}
