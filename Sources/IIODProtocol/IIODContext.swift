import ReservoirHAL

/// What the server presents of a `Board` as IIO devices (docs/iiod-protocol.md §4–5), and the
/// board state the connections share: the ADC as an input device with one scan-element
/// channel, the DAC as an output device with one, and a control device whose attributes are the
/// GPIO roles. Ids are `iio:deviceN`; names are the board file's, so a board file naming them
/// finds them.
///
/// Touched only on the server's board thread (`BoardExecutor`), like the board itself.
public final class IIODContext: @unchecked Sendable {
    public enum Kind: Sendable { case adc, dac, control }

    public struct Device: Sendable {
        public var id: String
        public var name: String
        public var kind: Kind
        /// The one scan-element channel (nil for the control device).
        public var channel: String?
        /// Device attributes in XML order.
        public var attributes: [String]
        /// Channel attributes in XML order.
        public var channelAttributes: [String]
    }

    /// How the served board runs, and the server's safety timings.
    public struct Timing: Sendable {
        /// Whether the board follows the wall clock (a paced twin, or hardware). Only then can a
        /// DAC stream starve, and only then does the dead-man time apply.
        public var paced: Bool
        /// A paced DAC stream whose queued samples ran out this long ago drives the board safe.
        public var deadMan: Duration
        /// ADC samples produced per job on the board thread: about a millisecond of samples when
        /// paced (a job sleeps until its last sample is due), 4096 in lock-step. Other
        /// connections' commands run between jobs, so this bounds how long they wait.
        public var chunkSamples: Int

        public init(paced: Bool, sampleRate: Hertz, deadMan: Duration = .milliseconds(2_500)) {
            self.paced = paced
            self.deadMan = deadMan
            chunkSamples = paced ? max(Int(sampleRate.value / 1_000), 1) : 4_096
        }
    }

    public let board: Board
    public let devices: [Device]
    public let timing: Timing
    /// Last levels written to the GPIO roles (the lines are write-only).
    var lineLevels: [String: Bool]
    /// The session that last asserted each GPIO output, while it stays asserted: if that
    /// session goes away, the board is driven safe.
    var lineHolders: [String: ObjectIdentifier] = [:]
    /// The code the DAC was last set to, as applied (after clamping to the drive range).
    var appliedDACCode: Int
    /// ADC samples served by READBUF on every connection since the server started (on the
    /// board thread; the fault schedule reads it as board time).
    public internal(set) var samplesServed = 0
    /// Devices with a buffer open (one client each).
    var openDevices: Set<String> = []
    /// Counts the times the server drove the board safe by itself. A DAC stream opened before
    /// the latest such time is refused further blocks: the client that fed it must notice.
    private(set) var forcedSafeCount = 0
    /// Why the server last drove the board safe by itself.
    private(set) var lastForcedSafeReason: String?
    /// Called on the board thread with one line when the server drives the board safe.
    package var log: @Sendable (String) -> Void = { _ in }

    public static let controlDeviceName = "ring-control"

    public init(board: Board, timing: Timing? = nil) {
        self.board = board
        self.timing = timing ?? Timing(paced: false, sampleRate: board.sampleRate)
        let wiring = board.wiring
        var lines = ["amp_enable", "loop_close", "trigger"]
        if board.heartbeat != nil { lines.append("heartbeat") }
        lineLevels = Dictionary(uniqueKeysWithValues: lines.map { ($0, false) })
        appliedDACCode = board.dac.format.code(forVolts: wiring.safeVolts)
        devices = [
            Device(
                id: "iio:device0", name: wiring.adc.device, kind: .adc, channel: wiring.adc.channel,
                attributes: ["sampling_frequency"], channelAttributes: ["raw", "scale"]),
            Device(
                id: "iio:device1", name: wiring.dac.device, kind: .dac, channel: wiring.dac.channel,
                attributes: ["sampling_frequency"], channelAttributes: ["raw", "scale"]),
            Device(
                id: "iio:device2", name: Self.controlDeviceName, kind: .control, channel: nil,
                attributes: lines + ["interlock"], channelAttributes: []),
        ]
    }

    /// The device a client names: by id, name or label, as iiod matches.
    func device(_ word: Substring) -> Device? {
        devices.first { $0.id == word || $0.name == word }
    }

    /// The output line behind a control attribute.
    func outputLine(_ name: String) -> (any DigitalOutputLine)? {
        switch name {
        case "amp_enable": return board.ampEnable
        case "loop_close": return board.loopClose
        case "trigger": return board.trigger
        case "heartbeat": return board.heartbeat
        default: return nil
        }
    }

    /// Drives the board safe on the server's own account (a client went away holding it, or a
    /// DAC stream starved): amplifier off, loop open, DAC at its safe level; every open DAC
    /// stream is cut off. Returns what the board reported.
    @discardableResult
    func driveSafe(reason: String) -> SafeStateOutcome {
        let outcome = board.enterSafeStateReporting()
        // The safe state deasserts these two; trigger and heartbeat keep their levels.
        lineLevels["amp_enable"] = false
        lineLevels["loop_close"] = false
        lineHolders.removeAll()
        appliedDACCode = board.dac.format.code(forVolts: board.wiring.safeVolts)
        forcedSafeCount += 1
        lastForcedSafeReason = reason
        log(
            "drove the board safe (\(reason)): "
                + (outcome.isSafe ? "amplifier off, loop open, DAC at its safe level" : "FAILED: \(outcome.failures)"))
        return outcome
    }

    /// The `PRINT` payload: libiio 0.24's header with its DTD, then the devices.
    public var xml: String {
        var body =
            "<context name=\"ringlab\" version-major=\"0\" version-minor=\"24\" version-git=\"v0.24\" "
            + "description=\"ringlab twin of \(escape(board.wiring.name))\">"
        body += "<context-attribute name=\"hw_model\" value=\"ringlab-\(escape(board.wiring.name))\" />"
        for device in devices {
            body += "<device id=\"\(device.id)\" name=\"\(escape(device.name))\">"
            if let channel = device.channel {
                let type = device.kind == .adc ? "input" : "output"
                let prefix = device.kind == .adc ? "in" : "out"
                body += "<channel id=\"\(escape(channel))\" type=\"\(type)\">"
                body += "<scan-element index=\"0\" format=\"le:u16/16&gt;&gt;0\" scale=\"\(scaleText(device))\" />"
                for attribute in device.channelAttributes {
                    body += "<attribute name=\"\(attribute)\" filename=\"\(prefix)_\(escape(channel))_\(attribute)\" />"
                }
                body += "</channel>"
            }
            for attribute in device.attributes { body += "<attribute name=\"\(attribute)\" />" }
            if device.channel != nil { body += "<buffer-attribute name=\"length\" />" }
            body += "</device>"
        }
        return Self.header + body + "</context>"
    }

    /// Millivolts per code, as IIO scales are.
    func scaleText(_ device: Device) -> String {
        let format = device.kind == .adc ? board.adc.format : board.dac.format
        return formatFixed(format.leastSignificantBit.value * 1000)
    }

    private func escape(_ text: String) -> String {
        text.replacingAll("&", with: "&amp;").replacingAll("<", with: "&lt;").replacingAll(">", with: "&gt;")
            .replacingAll("\"", with: "&quot;")
    }

    static let header =
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><!DOCTYPE context [<!ELEMENT context (device | context-attribute)*><!ELEMENT context-attribute EMPTY><!ELEMENT device (channel | attribute | debug-attribute | buffer-attribute)*><!ELEMENT channel (scan-element?, attribute*)><!ELEMENT attribute EMPTY><!ELEMENT scan-element EMPTY><!ELEMENT debug-attribute EMPTY><!ELEMENT buffer-attribute EMPTY><!ATTLIST context name CDATA #REQUIRED version-major CDATA #REQUIRED version-minor CDATA #REQUIRED version-git CDATA #REQUIRED description CDATA #IMPLIED><!ATTLIST context-attribute name CDATA #REQUIRED value CDATA #REQUIRED><!ATTLIST device id CDATA #REQUIRED name CDATA #IMPLIED label CDATA #IMPLIED><!ATTLIST channel id CDATA #REQUIRED type (input|output) #REQUIRED name CDATA #IMPLIED><!ATTLIST scan-element index CDATA #REQUIRED format CDATA #REQUIRED scale CDATA #IMPLIED><!ATTLIST attribute name CDATA #REQUIRED filename CDATA #IMPLIED><!ATTLIST debug-attribute name CDATA #REQUIRED><!ATTLIST buffer-attribute name CDATA #REQUIRED>]>"
}

extension String {
    /// `self` with every `target` replaced (Foundation-free).
    func replacingAll(_ target: Character, with replacement: String) -> String {
        var result = ""
        for character in self { if character == target { result += replacement } else { result.append(character) } }
        return result
    }
}

/// `value` with six decimals, as iiod prints scales (Foundation-free).
func formatFixed(_ value: Double) -> String {
    let scaled = (abs(value) * 1_000_000).rounded()
    let whole = Int(scaled / 1_000_000)
    let fraction = Int(scaled.truncatingRemainder(dividingBy: 1_000_000))
    let digits = String(fraction)
    return (value < 0 ? "-" : "") + "\(whole)." + String(repeating: "0", count: 6 - digits.count) + digits
}
