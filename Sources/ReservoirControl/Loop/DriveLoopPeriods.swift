import CRealtime
import RealModule
import ReservoirHAL

/// The per-period path of the drive loop: read a block, check it, record it, compute and push
/// the next. Runs on the loop's thread with the buffers `DriveLoop.init` allocated: no
/// allocation, no locks, no logging (the malloc-counting tests check it, on the twin and
/// through libiio).
extension DriveLoop {
    /// Streams one segment. The ADC blocks read first are the `blocksAhead` queued before it
    /// (bias periods, read for the safety checks and otherwise unused); after reading block b
    /// of the segment the loop pushes block b + `blocksAhead`, so the segment ends with that
    /// many bias periods queued for the next.
    func streamSegment(
        _ segment: PeriodSchedule, drive: UnsafeBufferPointer<Double>, states: UnsafeMutableBufferPointer<Double>,
        weight: Double
    ) throws(LoopStopped) {
        let ahead = ReservoirSettings.blocksAhead
        let recordedPeriods = segment.drivenPeriods + trailingPeriods
        let periodNanoseconds = board.sampleRate.duration(of: SampleCount(samplesPerPeriod)).nanoseconds
        let output = session!.output
        let input = session!.input
        if segment.probePeriods > 0 {
            normalizer.beginProbe()
            // Counted from the probe's last period on.
            session!.periodsSinceProbe = -(ahead + segment.probePeriods)
        }
        for index in stateRing.indices { stateRing[index] = 0.5 }
        do {
            for block in -ahead..<recordedPeriods {
                // The period to read ends at start + (pushed − ahead + 1)·τ on the board's clock:
                // the loop sleeps until then and wakes there (the wake-up latency, comparable
                // with cyclictest's); the refill that follows is timed apart (on a paced twin
                // it simulates the period, on hardware it copies a buffer the kernel filled).
                let due = session!.start + Int64(session!.pushed - ahead + 1) * periodNanoseconds
                board.clock.sleep(until: .nanoseconds(due))
                statistics.wakeUpLatency.record(UInt64(max(board.clock.now().nanoseconds - due, 0)))
                let refillStarted = rt_monotonic_nanoseconds()
                try input.refill(readings)
                let started = rt_monotonic_nanoseconds()
                statistics.refillTime.record(UInt64(max(started - refillStarted, 0)))
                if let reason = checkSafety() { throw stop(reason) }
                appendToHistory()
                if block >= trailingPeriods { record(period: block - trailingPeriods, segment, states, weight) }
                fillDrive(period: block + ahead, segment, drive: drive)
                try output.push(UnsafeBufferPointer(driveBlock))
                // The block had to be queued before its period began.
                if board.clock.now().nanoseconds > session!.start + Int64(session!.pushed) * periodNanoseconds {
                    statistics.deadlineMisses += 1
                    if limits.stopsOnDeadlineMiss { throw stop(.deadlineMiss(period: session!.pushed)) }
                }
                session!.pushed += 1
                session!.periodsSinceProbe += 1
                let spent = rt_monotonic_nanoseconds() - started
                statistics.computeNanoseconds += spent
                statistics.maximumComputeNanoseconds = max(statistics.maximumComputeNanoseconds, spent)
                statistics.periods += 1
                watchdog.beat()
                try toggleHeartbeat()
            }
        } catch let error as DeviceError {
            throw stop(.ioError(error.description))
        } catch let stopped as LoopStopped {
            throw stopped
        } catch {
            throw stop(.ioError("\(error)"))
        }
    }

    /// Enters the safe state and describes why.
    func stop(_ reason: SafeReason) -> LoopStopped {
        // The watchdog may have seen the interlock first (and cancelled the streams, so the
        // loop's refill failed): the reason is still the interlock.
        let reason: SafeReason = watchdog.interlockFired ? .interlock : (watchdog.fired ? .watchdog : reason)
        closeStreams()
        lastSafeState = board.enterSafeStateReporting()
        // How long the interlock's edge took to reach the safe state, by the kernel's
        // timestamp of the edge (a line that reports edges: libgpiod's).
        if case .interlock = reason, let edge = board.interlock.lastEdgeNanoseconds() {
            // The watchdog's own safe state when it got there first (0 while it is still in
            // it: then the loop's, which has just completed, bounds the time from above).
            let watchdogSafeAt = watchdog.interlockSafeAtNanoseconds
            let safeAt = watchdogSafeAt != 0 ? watchdogSafeAt : rt_monotonic_nanoseconds()
            statistics.interlockToSafeNanoseconds = safeAt - edge
        }
        return LoopStopped(reason: reason, periods: statistics.periods, safeState: lastSafeState)
    }

    /// The per-period safety checks: signals, the watchdog, the interlock, then the block's
    /// (`SafetyMonitor`).
    @inline(__always)
    func checkSafety() -> SafeReason? {
        let signal = pendingStopSignal()
        if signal != 0 { return .signal(signal) }
        if watchdog.fired { return .watchdog }
        do {
            if try board.interlock.read() { return .interlock }
        } catch {
            return .ioError(error.description)
        }
        let normalizer = normalizer
        let (reason, overRange) = monitor.check(readings) { mean in
            normalizer.isReady ? normalizer.normalized(mean) : nil
        }
        if overRange { statistics.overRangePeriods += 1 }
        return reason
    }

    /// Appends the ADC block just read to the history (dropping the oldest block).
    @inline(__always)
    func appendToHistory() {
        let p = samplesPerPeriod
        if trailingPeriods > 0 {
            for index in 0..<(trailingPeriods * p) { history[index] = history[index + p] }
        }
        let tail = trailingPeriods * p
        for index in 0..<p { history[tail + index] = readings[index] }
    }

    /// Turns segment period `period`, whose aligned samples the history now holds, into range
    /// sums or node states.
    @inline(__always)
    func record(
        period: Int, _ segment: PeriodSchedule, _ states: UnsafeMutableBufferPointer<Double>, _ weight: Double
    ) {
        // The history starts at the ADC samples of `period`, so its aligned samples (L later)
        // start L samples in.
        let start = settings.operatingPoint.latencySamples
        let nodes = settings.nodes
        let s = settings.samplesPerNode
        let skip = settings.settleSamples
        let inverseCount = 1 / Double(s - skip)
        switch segment.role(of: period) {
        case .bias: return
        case .probe(let probePeriod):
            var sum = 0.0
            for node in 0..<nodes {
                for index in (start + node * s + skip)..<(start + (node + 1) * s) { sum += history[index].value }
            }
            normalizer.add(meanReading: sum * inverseCount / Double(nodes), probePeriod: probePeriod)
        case .driven(let driven, let evaluation, let input, _):
            let slot = (driven % stateSlots) * nodes
            let row = (evaluation * segment.inputCount + input) * nodes
            for node in 0..<nodes {
                var sum = 0.0
                let first = start + node * s + skip
                for index in first..<(start + (node + 1) * s) { sum += history[index].value }
                let normalized = normalizer.normalized(sum * inverseCount)
                stateRing[slot + node] = normalized
                states[row + node] += normalized * weight
            }
        }
    }

    /// Computes the DAC block of segment period `period`: a range level, or the held input's
    /// drive plus the feedback of the same phase of the previous input of its evaluation, or
    /// the bias after the driven periods.
    @inline(__always)
    func fillDrive(period: Int, _ segment: PeriodSchedule, drive: UnsafeBufferPointer<Double>) {
        let point = settings.operatingPoint
        let nodes = settings.nodes
        let s = settings.samplesPerNode
        switch segment.role(of: period) {
        case .bias:
            for index in driveBlock.indices { driveBlock[index] = driveMap.level(point.biasVolts) }
        case .probe(let probePeriod):
            let level: Volts
            switch RangeNormalizer.level(ofProbePeriod: probePeriod) {
            case -1: level = point.biasVolts - point.spanVolts
            case 1: level = point.biasVolts + point.spanVolts
            default: level = point.biasVolts
            }
            for index in driveBlock.indices { driveBlock[index] = driveMap.level(level) }
        case .driven(let driven, let evaluation, let input, _):
            let eta = settings.feedback
            let hasFeedback = input > 0 && eta != 0
            let previousSlot = ((driven - delayPeriods + stateSlots) % stateSlots) * nodes
            let row = (evaluation * segment.inputCount + input) * nodes
            for node in 0..<nodes {
                var activation = drive[row + node]
                if hasFeedback {
                    let neighbour = node == 0 ? nodes - 1 : node - 1
                    activation += eta * (stateRing[previousSlot + neighbour] - 0.5)
                }
                let volts = driveMap.volts(activation: activation)
                for sample in 0..<s { driveBlock[node * s + sample] = volts }
            }
        }
    }
}
