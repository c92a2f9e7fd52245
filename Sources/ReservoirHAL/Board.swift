/// Everything the controller touches on one board, as filled in by one backend (hardware,
/// the in-process twin, or the twin behind the IIO server). Every slot is filled: a backend
/// without a device supplies an explicit inert one.
public struct Board {
    /// The board file this board was built from.
    public let wiring: BoardDescription
    /// The excitation DAC (sets the loop gain through the attenuator).
    public let dac: any AnalogOutput
    /// The detector ADC.
    public let adc: any AnalogInput
    /// Enables the ring's amplifier.
    public let ampEnable: any DigitalOutputLine
    /// Closes the ring's loop.
    public let loopClose: any DigitalOutputLine
    /// Marks period starts for an oscilloscope.
    public let trigger: any DigitalOutputLine
    /// Reports an unsafe condition when asserted.
    public let interlock: any DigitalInputLine
    /// Toggled by the drive loop once a period, when the board has one: the trigger input of a
    /// hardware retriggerable monostable that gates the amplifier, so the amplifier drops by
    /// itself when the loop stops toggling (docs/drive-loop.md, Safety layers).
    public let heartbeat: (any DigitalOutputLine)?
    /// The time the board runs on.
    public let clock: any BoardClock
    /// The simulation behind the board, when it is one (nil for hardware).
    public let simulation: (any RestartableSimulation)?

    /// A board from its parts.
    public init(
        wiring: BoardDescription, dac: any AnalogOutput, adc: any AnalogInput,
        ampEnable: any DigitalOutputLine, loopClose: any DigitalOutputLine,
        trigger: any DigitalOutputLine, interlock: any DigitalInputLine, clock: any BoardClock,
        simulation: (any RestartableSimulation)? = nil, heartbeat: (any DigitalOutputLine)? = nil
    ) {
        self.simulation = simulation
        self.heartbeat = heartbeat
        self.wiring = wiring
        self.dac = dac
        self.adc = adc
        self.ampEnable = ampEnable
        self.loopClose = loopClose
        self.trigger = trigger
        self.interlock = interlock
        self.clock = clock
    }

    /// The converters' shared sample rate.
    public var sampleRate: Hertz { wiring.sampleRate }

    /// `count` consecutive ADC samples through a stream (one block, then the stream closes):
    /// the buffered path a run uses, for `ringlab info --read`.
    public func sampleADC(count: Int) throws(DeviceError) -> [Volts] {
        let stream = try adc.openStream(samplesPerBlock: count)
        defer { stream.close() }
        let block = UnsafeMutableBufferPointer<Volts>.allocate(capacity: count)
        defer { block.deallocate() }
        block.initialize(repeating: Volts(0))
        try stream.refill(block)
        return Array(block)
    }

    /// Puts the board in its safe state: amplifier disabled, loop opened, DAC at the board's
    /// safe level. Every step is attempted even when an earlier one fails; the first failure
    /// is rethrown afterwards.
    public func enterSafeState() throws(DeviceError) {
        if let failure = enterSafeStateReporting().failures.first { throw failure }
    }

    /// Puts the board in its safe state as `enterSafeState` does, and reports each step.
    @discardableResult
    public func enterSafeStateReporting() -> SafeStateOutcome {
        var outcome = SafeStateOutcome()
        var amplifierOff = true
        var loopOpen = true
        do { try ampEnable.set(false) } catch {
            outcome.failures.append(error)
            amplifierOff = false
        }
        do { try loopClose.set(false) } catch {
            outcome.failures.append(error)
            loopOpen = false
        }
        // Either line alone stops the oscillation.
        outcome.amplifierOff = amplifierOff
        outcome.loopOpen = loopOpen
        outcome.ringDisabled = amplifierOff || loopOpen
        do { try dac.hold(wiring.safeVolts) } catch {
            outcome.failures.append(error)
            outcome.dacAtSafeLevel = false
        }
        return outcome
    }

    /// Closes the loop and enables the amplifier (loop first, so the amplifier never drives an
    /// open line).
    public func enableRing() throws(DeviceError) {
        try loopClose.set(true)
        try ampEnable.set(true)
    }
}

/// How an attempt to reach the safe state went.
public struct SafeStateOutcome: Sendable {
    /// The steps that failed, in order.
    public var failures: [DeviceError] = []
    /// Whether the ring can no longer oscillate (the amplifier is off or the loop is open).
    public var ringDisabled = true
    /// Whether the amplifier line was driven off.
    public var amplifierOff = true
    /// Whether the loop line was driven open.
    public var loopOpen = true
    /// Whether the DAC holds the board's safe level.
    public var dacAtSafeLevel = true

    public init() {}

    /// Fully safe: ring off and DAC at its safe level.
    public var isSafe: Bool { ringDisabled && dacAtSafeLevel }
}

/// A simulated board that can start its physics and noise afresh from a seed while it is in
/// its safe state. A training run does so at every checkpoint, so a run resumed from a
/// checkpoint in a new process meets the same simulated device as the uninterrupted run did
/// (hardware cannot, and a resumed hardware run simply continues).
public protocol RestartableSimulation: AnyObject {
    /// Restarts the simulation's state and noise from `seed`; the board must be safe.
    func restart(seed: UInt64)
}
