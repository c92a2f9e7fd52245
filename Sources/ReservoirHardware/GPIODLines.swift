import ReservoirHAL

/// A GPIO line through libgpiod 1.6 (the v1 character-device API): requested once, released
/// with the object. Levels are logical; active-low wiring is in the request's flags.
final class GPIODLine: DigitalOutputLine, DigitalInputLine {
    private let chip: OpaquePointer
    private let line: OpaquePointer
    let role: String

    /// Requests line `wiring.offset` (or the line named `wiring.lineName`) of `wiring.chip` for `role`: an output (deasserted at
    /// first) or an input watched for edges.
    init(role: String, wiring: BoardDescription.Line, output: Bool) throws(DeviceError) {
        self.role = role
        let chip = try GPIODCalls.openChip(wiring.chip)
        // Everything that can fail happens before the stored properties are set: a throw
        // after them would run deinit as well as this cleanup, closing the chip twice (a
        // line held by another process did exactly that, in the VM of `make hil`).
        do {
            let line =
                if let name = wiring.lineName {
                    try GPIODCalls.line(chip, named: name, chipName: wiring.chip)
                } else {
                    try GPIODCalls.line(chip, offset: wiring.offset, chipName: wiring.chip)
                }
            if output {
                try GPIODCalls.requestOutput(line, activeLow: wiring.activeLow, asserted: false, role: role)
            } else {
                try GPIODCalls.requestInput(line, activeLow: wiring.activeLow, role: role)
            }
            self.chip = chip
            self.line = line
        } catch {
            GPIODCalls.closeChip(chip)
            throw error
        }
    }

    deinit {
        GPIODCalls.release(line)
        GPIODCalls.closeChip(chip)
    }

    func set(_ asserted: Bool) throws(DeviceError) { try GPIODCalls.set(line, asserted, role: role) }

    func read() throws(DeviceError) -> Bool { try GPIODCalls.get(line, role: role) }

    func lastEdgeNanoseconds() -> Int64? { GPIODCalls.newestEdgeNanoseconds(line) }

    var readableFromAnyThread: Bool { true }

    /// Where the line's edge events arrive (an input's); poll it for readability.
    var eventDescriptor: Int32 { GPIODCalls.eventDescriptor(line) }
}
