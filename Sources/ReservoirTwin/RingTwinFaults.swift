import ReservoirHAL

/// Faults injected into the twin at chosen times (docs/twin.md): how tests and `ringlab run
/// --inject` make the hardware misbehave on purpose.
extension RingTwin {
    // MARK: Faults

    /// Schedules `fault` at twin time `at` (at once when that time has passed).
    public func inject(_ fault: TwinFault, at: Duration) {
        let sample = max(parameters.sampleRate.samples(in: at).value, samplesSimulated)
        pendingFaults.append((sample, fault))
        pendingFaults.sort { $0.sample < $1.sample }
        nextFaultSample = pendingFaults[0].sample
        if sample == samplesSimulated { applyDueFaults() }
    }

    /// Ends every persistent fault and forgets scheduled ones.
    public func clearFaults() {
        pendingFaults.removeAll()
        nextFaultSample = .max
        dacFailed = false
        interlockAsserted = false
        dropoutEndSample = 0
        simulator.amplifierFailed = false
        simulator.noiseFactor = 1
        simulator.adcMode = .normal
    }

    func applyDueFaults() {
        while let first = pendingFaults.first, first.sample <= samplesSimulated {
            pendingFaults.removeFirst()
            switch first.fault {
            case .gainJump(let size): simulator.jumpDrift(by: size)
            case .adcDropout(let duration):
                dropoutEndSample = max(
                    dropoutEndSample, first.sample + max(parameters.sampleRate.samples(in: duration).value, 1))
            case .adcStuck: simulator.adcMode = .stuck
            case .adcSaturated: simulator.adcMode = .saturated
            case .dacFailure: dacFailed = true
            case .interlock: interlockAsserted = true
            case .amplifierFailure: simulator.amplifierFailed = true
            case .extraNoise(let factor): simulator.noiseFactor = factor
            }
        }
        nextFaultSample = pendingFaults.first?.sample ?? .max
    }
}
