import ReservoirHAL
import SeededRandom

/// Streams random input through the loop for a while: the soak test behind `ringlab run`.
public enum RandomDriveRun {
    /// How a run ended.
    public struct Outcome: Sendable {
        /// Why the board entered its safe state (`endOfRun` when nothing went wrong).
        public var reason: SafeReason
        /// How reaching the safe state went.
        public var safeState: SafeStateOutcome
        /// Seconds of board time streamed (periods × τ).
        public var streamedSeconds: Double
    }

    /// Streams uniformly random inputs in [−1, 1] through a binary mask of scale
    /// `inputScale` for about `seconds` of board time, in continuous streams of at most
    /// `chunkSeconds` each.
    public static func run(
        loop: DriveLoop, seconds: Double, inputScale: Double, seed: UInt64, chunkSeconds: Double = 10
    ) -> Outcome {
        let nodes = loop.settings.nodes
        let periodSeconds = Double(loop.samplesPerPeriod) / loop.board.sampleRate.value
        let inputSeconds = periodSeconds * Double(loop.delayPeriods)
        var random = Xoshiro256StarStar(seed: seed, stream: 300)
        let mask = (0..<nodes).map { _ in random.next() >> 63 == 1 ? 1.0 : -1.0 }
        var remaining = max(Int((seconds / inputSeconds).rounded()), 1)
        let chunkInputs = max(Int(chunkSeconds / inputSeconds), 1)
        var drive = [Double](repeating: 0, count: min(remaining, chunkInputs) * nodes)
        var states = drive
        while remaining > 0 {
            let count = min(remaining, chunkInputs)
            for k in 0..<count {
                let u = 2 * random.nextUnitInterval() - 1
                for i in 0..<nodes { drive[k * nodes + i] = inputScale * mask[i] * u }
            }
            do {
                try drive.withUnsafeBufferPointer { driveBuffer throws(LoopStopped) in
                    try states.withUnsafeMutableBufferPointer { stateBuffer throws(LoopStopped) in
                        try loop.run(
                            drive: UnsafeBufferPointer(rebasing: driveBuffer[0..<(count * nodes)]), inputCount: count,
                            states: UnsafeMutableBufferPointer(rebasing: stateBuffer[0..<(count * nodes)]))
                    }
                }
            } catch {
                return Outcome(
                    reason: error.reason, safeState: error.safeState,
                    streamedSeconds: Double(loop.statistics.periods) * periodSeconds)
            }
            remaining -= count
        }
        return Outcome(
            reason: .endOfRun, safeState: loop.lastSafeState,
            streamedSeconds: Double(loop.statistics.periods) * periodSeconds)
    }
}
