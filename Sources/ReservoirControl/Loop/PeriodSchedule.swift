/// The periods of one call of `DriveLoop.evaluate`, in stream order: the range probe (if due),
/// the driven periods — units of inputCount·D periods, one per shot of each evaluation — then
/// bias periods. Maps a period to what it is; the one place that mapping is written.
public struct PeriodSchedule: Sendable, Equatable {
    public var probePeriods: Int
    public var inputCount: Int
    public var evaluationCount: Int
    public var shots: Int
    /// Periods each input is held, D.
    public var delayPeriods: Int

    public init(probePeriods: Int, inputCount: Int, evaluationCount: Int, shots: Int, delayPeriods: Int) {
        self.probePeriods = probePeriods
        self.inputCount = inputCount
        self.evaluationCount = evaluationCount
        self.shots = shots
        self.delayPeriods = delayPeriods
    }

    /// Periods of one unit (one shot of one evaluation).
    public var unitPeriods: Int { inputCount * delayPeriods }
    /// Probe and driven periods.
    public var drivenPeriods: Int { probePeriods + evaluationCount * shots * unitPeriods }

    /// What a period of the schedule is.
    public enum Role: Equatable, Sendable {
        /// Period `period` of the range probe.
        case probe(period: Int)
        /// A driven period: `driven` counts driven periods from 0; the input is row
        /// `evaluation`·inputCount + `input` of the drive; `phase` is the period within the
        /// input's D held periods.
        case driven(driven: Int, evaluation: Int, input: Int, phase: Int)
        /// A bias period after the driven ones.
        case bias
    }

    @inline(__always)
    public func role(of period: Int) -> Role {
        if period < probePeriods { return .probe(period: period) }
        guard period < drivenPeriods else { return .bias }
        let driven = period - probePeriods
        let unit = driven / unitPeriods
        let withinUnit = driven % unitPeriods
        return .driven(
            driven: driven, evaluation: unit / shots, input: withinUnit / delayPeriods, phase: withinUnit % delayPeriods)
    }
}
