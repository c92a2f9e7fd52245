import ReservoirHAL

/// The twin's DAC as a HAL device.
final class TwinDAC: AnalogOutput {
    let twin: RingTwin
    init(twin: RingTwin) { self.twin = twin }

    var format: ConverterFormat { twin.parameters.dac.format }

    func hold(_ level: Volts) throws(DeviceError) { try twin.hold(level) }

    func openStream(samplesPerBlock: Int) throws(DeviceError) -> any AnalogOutputStream {
        try validateBlock(samplesPerBlock, "open DAC stream")
        try twin.openDACQueue(samplesPerBlock: samplesPerBlock)
        return TwinDACStream(twin: twin, samplesPerBlock: samplesPerBlock)
    }

    func playCyclic(_ block: UnsafeBufferPointer<Volts>) throws(DeviceError) -> any CyclicOutput {
        try validateBlock(block.count, "play a cyclic block on the DAC")
        try twin.playCyclic(block)
        return TwinCyclicOutput(twin: twin)
    }
}

final class TwinCyclicOutput: CyclicOutput {
    let twin: RingTwin
    private var isOpen = true
    init(twin: RingTwin) { self.twin = twin }
    deinit { close() }

    func close() {
        guard isOpen else { return }
        isOpen = false
        twin.stopCyclic()
    }
}

final class TwinDACStream: AnalogOutputStream {
    let twin: RingTwin
    let samplesPerBlock: Int
    private var isOpen = true

    init(twin: RingTwin, samplesPerBlock: Int) {
        self.twin = twin
        self.samplesPerBlock = samplesPerBlock
    }

    deinit { close() }

    func push(_ block: UnsafeBufferPointer<Volts>) throws(DeviceError) {
        guard isOpen, block.count == samplesPerBlock else {
            throw blockMismatch("push to the twin's DAC", isOpen: isOpen, found: block.count, expected: samplesPerBlock)
        }
        try twin.push(block)
    }

    func close() {
        guard isOpen else { return }
        isOpen = false
        twin.closeDACQueue()
    }
}

/// The twin's ADC as a HAL device.
final class TwinADC: AnalogInput {
    let twin: RingTwin
    init(twin: RingTwin) { self.twin = twin }

    var format: ConverterFormat { twin.parameters.adc.format }

    func openStream(samplesPerBlock: Int) throws(DeviceError) -> any AnalogInputStream {
        try validateBlock(samplesPerBlock, "open ADC stream")
        try twin.openADCQueue(samplesPerBlock: samplesPerBlock)
        return TwinADCStream(twin: twin, samplesPerBlock: samplesPerBlock)
    }

    func readOnce() throws(DeviceError) -> Volts { twin.readOnce() }
}

final class TwinADCStream: AnalogInputStream {
    let twin: RingTwin
    let samplesPerBlock: Int
    private var isOpen = true

    init(twin: RingTwin, samplesPerBlock: Int) {
        self.twin = twin
        self.samplesPerBlock = samplesPerBlock
    }

    deinit { close() }

    func refill(_ block: UnsafeMutableBufferPointer<Volts>) throws(DeviceError) {
        guard isOpen, block.count == samplesPerBlock else {
            throw blockMismatch(
                "refill of the twin's ADC", isOpen: isOpen, found: block.count, expected: samplesPerBlock)
        }
        try twin.refill(block)
    }

    func close() {
        guard isOpen else { return }
        isOpen = false
        twin.closeADCQueue()
    }
}

/// One of the twin's GPIO outputs; what asserting it does depends on its role.
final class TwinOutputLine: DigitalOutputLine {
    private let apply: (Bool) -> Void
    init(_ apply: @escaping (Bool) -> Void) { self.apply = apply }
    func set(_ asserted: Bool) throws(DeviceError) { apply(asserted) }
}

/// The twin's interlock input.
final class TwinInterlockLine: DigitalInputLine {
    let twin: RingTwin
    init(twin: RingTwin) { self.twin = twin }
    func read() throws(DeviceError) -> Bool { twin.readInterlock() }
}

private func validateBlock(_ samplesPerBlock: Int, _ operation: String) throws(DeviceError) {
    guard (1...(1 << 24)).contains(samplesPerBlock) else {
        throw DeviceError(
            .invalidRequest, errno: .invalidArgument, operation: operation,
            detail: "found \(samplesPerBlock) samples per block, expected 1 to \(1 << 24)")
    }
}

private func blockMismatch(_ operation: String, isOpen: Bool, found: Int, expected: Int) -> DeviceError {
    DeviceError(
        .invalidRequest, errno: .invalidArgument, operation: operation,
        detail: isOpen ? "found a block of \(found) samples, expected \(expected)" : "the stream is closed")
}

extension RingTwin {
    /// The twin as a `Board` wired as `wiring` describes. The board file's converters and
    /// sample rate must match the twin's; a mismatch names both files. The board starts in its
    /// safe state.
    public func makeBoard(wiring: BoardDescription) throws(ConfigError) -> Board {
        try checkAgreement(with: wiring)
        let board = Board(
            wiring: wiring, dac: TwinDAC(twin: self), adc: TwinADC(twin: self),
            ampEnable: TwinOutputLine { [unowned self] in self.setAmplifier($0) },
            loopClose: TwinOutputLine { [unowned self] in self.setLoop($0) },
            trigger: TwinOutputLine { [unowned self] in self.setTrigger($0) },
            interlock: TwinInterlockLine(twin: self), clock: clock, simulation: self,
            heartbeat: wiring.gpio.heartbeat == nil ? nil : TwinOutputLine { [unowned self] in self.setHeartbeat($0) })
        do {
            try board.enterSafeState()
        } catch {
            // Only an injected DAC failure can fail here; the board is still returned so the
            // test that injected it can observe the failure through the loop.
        }
        return board
    }

    private func checkAgreement(with wiring: BoardDescription) throws(ConfigError) {
        func mismatch(_ field: String, board: String, twin: String) -> ConfigError {
            ConfigError(
                file: wiring.source, field: field, problem: .inconsistent(found: board),
                expected: "\(twin), as the twin's parameter file says")
        }
        if wiring.sampleRate != parameters.sampleRate {
            throw mismatch(
                "sample_rate_hz", board: "\(wiring.sampleRate.value)", twin: "\(parameters.sampleRate.value)")
        }
        if wiring.dac.format != parameters.dac.format {
            throw mismatch(
                "dac", board: "\(wiring.dac.format.bits) bits over \(wiring.dac.format.reference.value) V",
                twin: "\(parameters.dac.format.bits) bits over \(parameters.dac.format.reference.value) V")
        }
        if wiring.adc.format != parameters.adc.format {
            throw mismatch(
                "adc", board: "\(wiring.adc.format.bits) bits over \(wiring.adc.format.reference.value) V",
                twin: "\(parameters.adc.format.bits) bits over \(parameters.adc.format.reference.value) V")
        }
    }
}
