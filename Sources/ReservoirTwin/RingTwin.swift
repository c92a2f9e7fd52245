import FastMath
import ReservoirHAL

/// The simulated ring as a board backend: a `RingSimulator` behind a DAC, an ADC, the GPIO
/// roles and a clock, with fault injection.
///
/// Time is the twin's sample count. Every operation first brings the simulation up to the
/// clock's present, and an operation that needs samples that do not exist yet simulates them
/// and sleeps on the clock until their time. With a `ManualClock` that sleep is instant (the
/// clock is advanced by the twin: lock-step, deterministic, as fast as the CPU allows); with a
/// monotonic clock the same code runs paced at the sample rate, as hardware does.
public final class RingTwin {
    /// The physics in use.
    public let parameters: TwinParameters
    /// The seed of every noise source.
    public let seed: UInt64
    /// The clock the twin runs on.
    public let clock: any BoardClock
    let origin: Duration

    var simulator: RingSimulator
    /// Samples simulated since the start.
    public private(set) var samplesSimulated = 0

    // DAC: what it outputs now, and what is queued (as output volts, errors applied).
    var heldOutputVolts: Double
    var dacQueue: SampleQueue<Double>?
    // ADC: codes waiting to be read while a stream is open; a negative code marks a lost sample.
    var adcQueue: SampleQueue<Int32>?
    private static let lostSample: Int32 = -1

    // GPIO state.
    var amplifierEnabled = false
    var loopClosed = false
    /// The monostable gating the amplifier (`TwinParameters.heartbeatHold`): the sample at which
    /// its output falls unless a heartbeat edge retriggers it first (Int.max: none fitted).
    var monostableExpirySample = Int.max
    let monostableHoldSamples: Int?
    var heartbeatLevel = false
    /// The ADC code of the last sample simulated (a one-shot conversion reads it).
    var lastCode: Int32 = 0
    /// How many times the trigger line has been asserted.
    public private(set) var triggerAssertions = 0

    // Faults.
    var pendingFaults: [(sample: Int, fault: TwinFault)] = []
    var nextFaultSample = Int.max
    var dacFailed = false
    var interlockAsserted = false
    var dropoutEndSample = 0

    /// Counters of stream trouble.
    public struct Statistics: Sendable, Equatable {
        /// Samples the DAC played with its stream open but its queue empty (it held its last level).
        public var underrunSamples = 0
        /// ADC samples discarded because the reader fell behind.
        public var overrunSamples = 0
    }
    /// Stream trouble so far.
    public private(set) var statistics = Statistics()

    /// A twin with `parameters`, all noise drawn from `seed`, running on `clock`
    /// (a `ManualClock` for lock-step). It starts safe: amplifier off, loop open, DAC at 0 V.
    public init(parameters: TwinParameters, seed: UInt64, clock: any BoardClock = ManualClock()) {
        self.parameters = parameters
        self.seed = seed
        self.clock = clock
        origin = clock.now()
        dacTransfer = DACTransfer(parameters.dac)
        heldOutputVolts = 0
        monostableHoldSamples = parameters.heartbeatHold.map { max(parameters.sampleRate.samples(in: $0).value, 1) }
        // A fitted monostable starts fallen: the amplifier needs a heartbeat before it conducts.
        if monostableHoldSamples != nil { monostableExpirySample = 0 }
        simulator = RingSimulator(parameters: parameters, seed: seed, initialDACVolts: 0)
        heldOutputVolts = dacOutputVolts(forRequest: .zero)
        for scheduled in parameters.faults { inject(scheduled.fault, at: scheduled.at) }
    }

    deinit {
        simulator.deallocate()
        dacQueue?.deallocate()
        adcQueue?.deallocate()
    }

    // MARK: Introspection (for tests and benchmarks; a controller sees only the Board)

    /// The loop gain G now (attenuator, drift and GPIO gate included).
    public var gain: Double { simulator.gain }
    /// The circulating power P = |A|² now.
    public var power: Double { simulator.power }
    /// The envelope's phase arg(A) now.
    public var phase: Double { simulator.phase }
    /// The relative gain drift δ now.
    public var drift: Double { simulator.drift }
    /// The DAC output after its reconstruction filter, V_f.
    public var filteredDACVolts: Double { simulator.filteredDACVolts }
    /// The twin's time: samples simulated over the sample rate.
    public var elapsed: Duration { parameters.sampleRate.duration(of: SampleCount(samplesSimulated)) }

    // MARK: Simulation

    /// Simulates `count` samples: the DAC plays its queue (or holds), the ring evolves, the
    /// ADC queues its codes while a stream is open.
    func simulate(_ count: Int) {
        var remaining = count
        while remaining > 0 {
            if samplesSimulated >= nextFaultSample { applyDueFaults() }
            if samplesSimulated >= monostableExpirySample { updateGainGate() }
            // Run up to the next fault boundary or monostable edge in one tight loop on local
            // copies (class properties would cost an exclusivity check per access).
            let nextMonostableEdge = monostableExpirySample > samplesSimulated ? monostableExpirySample : Int.max
            let chunk = min(remaining, nextFaultSample - samplesSimulated, nextMonostableEdge - samplesSimulated)
            var model = simulator
            var held = heldOutputVolts
            var dac = dacQueue
            var adc = adcQueue
            var underruns = 0
            var overruns = 0
            var code = lastCode
            let firstSample = samplesSimulated
            let dropoutEnd = dropoutEndSample
            let cyclic = cyclicBlock
            var cyclicIndex = cyclicPosition
            for offset in 0..<chunk {
                if dac != nil {
                    if dac!.isEmpty { underruns += 1 } else { held = dac!.removeFirst() }
                } else if let cyclic {
                    held = cyclic[cyclicIndex]
                    cyclicIndex = cyclicIndex + 1 == cyclic.count ? 0 : cyclicIndex + 1
                }
                code = model.step(dacOutputVolts: held)
                if adc != nil {
                    if adc!.freeSpace == 0 {
                        _ = adc!.removeFirst()
                        overruns += 1
                    }
                    adc!.append(firstSample + offset < dropoutEnd ? Self.lostSample : code)
                }
            }
            simulator = model
            lastCode = code
            heldOutputVolts = held
            cyclicPosition = cyclicIndex
            dacQueue = dac
            adcQueue = adc
            samplesSimulated += chunk
            statistics.underrunSamples += underruns
            statistics.overrunSamples += overruns
            remaining -= chunk
        }
        // A fault scheduled at time t is in effect at t, before the sample that starts there.
        if samplesSimulated >= nextFaultSample { applyDueFaults() }
        if samplesSimulated >= monostableExpirySample { updateGainGate() }
    }

    /// Simulates up to sample `target`, then sleeps until that sample is due on the clock: a
    /// paced twin hands over a block when its last sample is due, as a converter does, and its
    /// own computing time does not delay the delivery. (A GPIO change lands after the samples
    /// already made, at most one block later than on the wall clock.)
    func advance(toSample target: Int) {
        guard target > samplesSimulated else { return }
        simulate(target - samplesSimulated)
        clock.sleep(until: origin + parameters.sampleRate.duration(of: SampleCount(target)))
    }

    /// Brings the simulation up to the clock's present (a no-op in lock-step, where the twin
    /// itself moves the clock).
    func catchUp() {
        let due = parameters.sampleRate.samples(in: clock.now() - origin).value
        if due > samplesSimulated { simulate(due - samplesSimulated) }
    }

    // MARK: Converters

    /// The DAC transfer: nearest code at the nominal scale (clamped), then the gain and offset
    /// errors: V_out = (1 + ε_dac)·code·LSB + offset_dac.
    struct DACTransfer {
        let inverseLSB: Double
        let maximumCode: Double
        let voltsPerCode: Double
        let offsetVolts: Double

        init(_ dac: TwinParameters.Converter) {
            inverseLSB = 1 / dac.format.leastSignificantBit.value
            maximumCode = Double(dac.format.maximumCode)
            voltsPerCode = (1 + dac.gainError) * dac.format.leastSignificantBit.value
            offsetVolts = dac.offsetVolts
        }

        @inline(__always)
        func outputVolts(forRequest request: Volts) -> Double {
            let code = min(max(roundedToNearest(request.value * inverseLSB), 0), maximumCode)
            return code * voltsPerCode + offsetVolts
        }
    }
    let dacTransfer: DACTransfer

    /// What the DAC outputs when asked for `request` (its quantization, clamping and errors).
    public func dacOutputVolts(forRequest request: Volts) -> Double {
        dacTransfer.outputVolts(forRequest: request)
    }

    func hold(_ level: Volts) throws(DeviceError) {
        catchUp()
        guard !dacFailed else { throw dacFailure("hold") }
        heldOutputVolts = dacOutputVolts(forRequest: level)
        dacQueue?.removeAll()
        cyclicBlock = nil
    }

    func openDACQueue(samplesPerBlock: Int) throws(DeviceError) {
        guard dacQueue == nil else {
            throw DeviceError(.busy, errno: .busy, operation: "open DAC stream", detail: "the DAC already has a stream")
        }
        dacQueue = SampleQueue(capacity: 4 * samplesPerBlock, filler: 0)
    }

    func push(_ block: UnsafeBufferPointer<Volts>) throws(DeviceError) {
        catchUp()
        guard !dacFailed else { throw dacFailure("push") }
        // A full queue blocks the caller until enough samples have played out.
        let needed = block.count - dacQueue!.freeSpace
        if needed > 0 { advance(toSample: samplesSimulated + needed) }
        var queue = dacQueue!
        let transfer = dacTransfer
        for request in block { queue.append(transfer.outputVolts(forRequest: request)) }
        dacQueue = queue
    }

    /// A cyclic DAC block (output volts, errors applied) and the next sample of it to play.
    var cyclicBlock: [Double]?
    var cyclicPosition = 0

    func playCyclic(_ block: UnsafeBufferPointer<Volts>) throws(DeviceError) {
        catchUp()
        guard !dacFailed else { throw dacFailure("play a cyclic block") }
        guard dacQueue == nil, cyclicBlock == nil else {
            throw DeviceError(
                .busy, errno: .busy, operation: "play a cyclic block", detail: "the DAC already has a stream")
        }
        cyclicBlock = block.map { dacTransfer.outputVolts(forRequest: $0) }
        cyclicPosition = 0
    }

    func stopCyclic() {
        catchUp()
        cyclicBlock = nil
    }

    func closeDACQueue() {
        dacQueue?.deallocate()
        dacQueue = nil
    }

    func openADCQueue(samplesPerBlock: Int) throws(DeviceError) {
        guard adcQueue == nil else {
            throw DeviceError(.busy, errno: .busy, operation: "open ADC stream", detail: "the ADC already has a stream")
        }
        catchUp()
        adcQueue = SampleQueue(capacity: 8 * samplesPerBlock, filler: 0)
    }

    func refill(_ block: UnsafeMutableBufferPointer<Volts>) throws(DeviceError) {
        catchUp()
        let missing = block.count - adcQueue!.count
        if missing > 0 { advance(toSample: samplesSimulated + missing) }
        let lsb = parameters.adc.format.leastSignificantBit.value
        var lost = false
        var queue = adcQueue!
        for index in block.indices {
            let code = queue.removeFirst()
            lost = lost || code == Self.lostSample
            block[index] = Volts(Double(code) * lsb)
        }
        adcQueue = queue
        if lost {
            throw DeviceError(
                .timedOut, errno: .timedOut, operation: "refill of the twin's ADC",
                detail: "no samples arrived (injected ADC dropout)")
        }
    }

    /// One conversion now: the twin runs until a conversion started now leaves the ADC's
    /// pipeline (L + 1 samples) and returns its code in volts. An open stream receives those
    /// samples too, as a real ADC's buffer would.
    func readOnce() -> Volts {
        catchUp()
        advance(toSample: samplesSimulated + parameters.adcLatencySamples + 1)
        return Volts(Double(max(lastCode, 0)) * parameters.adc.format.leastSignificantBit.value)
    }

    func closeADCQueue() {
        adcQueue?.deallocate()
        adcQueue = nil
    }

    func dacFailure(_ operation: String) -> DeviceError {
        DeviceError(
            .ioFailure, errno: .ioError, operation: "\(operation) on the twin's DAC", detail: "injected DAC failure")
    }

    // MARK: GPIO

    func setAmplifier(_ enabled: Bool) {
        catchUp()
        amplifierEnabled = enabled
        updateGainGate()
    }

    func setLoop(_ closed: Bool) {
        catchUp()
        loopClosed = closed
        updateGainGate()
    }

    /// A level on the heartbeat line: each edge retriggers the monostable, whose output then
    /// stays high for its hold time (a 74HC123-style retriggerable one-shot).
    func setHeartbeat(_ level: Bool) {
        catchUp()
        guard level != heartbeatLevel else { return }
        heartbeatLevel = level
        if let hold = monostableHoldSamples { monostableExpirySample = samplesSimulated + hold }
        updateGainGate()
    }

    /// Whether the monostable lets the amplifier conduct now (always, when none is fitted).
    public var monostableHigh: Bool { samplesSimulated < monostableExpirySample }

    /// The gain gate: the amplifier conducts when enabled, the monostable (if fitted) is high,
    /// and the loop is closed.
    func updateGainGate() {
        simulator.gainGateOpen = amplifierEnabled && loopClosed && monostableHigh
    }

    func setTrigger(_ asserted: Bool) {
        if asserted { triggerAssertions += 1 }
    }

    func readInterlock() -> Bool {
        catchUp()
        return interlockAsserted
    }

    /// Whether the amplifier is enabled and the loop closed (the ring can oscillate; a fitted
    /// monostable may still hold the amplifier off: `monostableHigh`).
    public var ringEnabled: Bool { amplifierEnabled && loopClosed }
    /// The DAC's present output in volts (errors applied, before its filter).
    public var dacOutput: Volts { Volts(heldOutputVolts) }
}

extension RingTwin: RestartableSimulation {
    /// Starts the ring's physics afresh as a new twin from `seed` would (field, filters, drift
    /// δ = 0, latency line, noise streams), keeping the present DAC level, GPIO state, active
    /// faults and the clock. Streams must be closed and the board safe (the ring off), as it is
    /// between a training run's sessions.
    public func restart(seed: UInt64) {
        precondition(dacQueue == nil && adcQueue == nil, "restart the twin with its streams closed")
        catchUp()
        let old = simulator
        simulator = RingSimulator(parameters: parameters, seed: seed, initialDACVolts: heldOutputVolts)
        simulator.gainGateOpen = amplifierEnabled && loopClosed && monostableHigh
        simulator.amplifierFailed = old.amplifierFailed
        simulator.noiseFactor = old.noiseFactor
        simulator.adcMode = old.adcMode
        old.deallocate()
    }
}
