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
    /// The time the board runs on.
    public let clock: any BoardClock

    /// A board from its parts.
    public init(
        wiring: BoardDescription, dac: any AnalogOutput, adc: any AnalogInput,
        ampEnable: any DigitalOutputLine, loopClose: any DigitalOutputLine,
        trigger: any DigitalOutputLine, interlock: any DigitalInputLine, clock: any BoardClock
    ) {
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

    /// Puts the board in its safe state: amplifier disabled, loop opened, DAC at the board's
    /// safe level. Every step is attempted even when an earlier one fails; the first failure
    /// is rethrown afterwards.
    public func enterSafeState() throws(DeviceError) {
        var firstFailure: DeviceError?
        do { try ampEnable.set(false) } catch { firstFailure = firstFailure ?? error }
        do { try loopClose.set(false) } catch { firstFailure = firstFailure ?? error }
        do { try dac.hold(wiring.safeVolts) } catch { firstFailure = firstFailure ?? error }
        if let firstFailure { throw firstFailure }
    }

    /// Closes the loop and enables the amplifier (loop first, so the amplifier never drives an
    /// open line).
    public func enableRing() throws(DeviceError) {
        try loopClose.set(true)
        try ampEnable.set(true)
    }
}
