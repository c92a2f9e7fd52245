import ReservoirHAL

/// What the server presents of a `Board` as IIO devices (docs/iiod-protocol.md §4–5): the ADC
/// as an input device with one scan-element channel, the DAC as an output device with one, and
/// a control device whose attributes are the GPIO roles. Ids are `iio:deviceN`; names are the
/// board file's, so a board file naming them finds them.
public final class IIODContext {
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

    public let board: Board
    public let devices: [Device]
    /// Device attributes written by clients and not backed by the board.
    var storedAttributes: [String: String] = [:]
    /// Last levels written to the GPIO roles (the lines are write-only).
    var lineLevels: [String: Bool] = ["amp_enable": false, "loop_close": false, "trigger": false]
    /// The last DAC code held through `raw`, and the last ADC code streamed.
    var lastDACCode = 0
    var lastADCCode = 0
    /// Devices with a buffer open (one client each).
    var openDevices: Set<String> = []
    /// A cyclic DAC buffer: its block, the stream it replays into, and how many of its samples
    /// are queued ahead of the ADC samples read since. The block is replayed as the ADC
    /// streams (a lock-step twin's time moves with its ADC), so the DAC never runs dry.
    var cyclic: (block: UnsafeMutableBufferPointer<Volts>, stream: any AnalogOutputStream)?
    var cyclicSamplesAhead = 0

    /// Queues the cyclic block until it covers the next `samples` ADC samples.
    func replayCyclic(covering samples: Int) throws(DeviceError) {
        guard let cyclic else { return }
        while cyclicSamplesAhead < samples {
            try cyclic.stream.push(UnsafeBufferPointer(cyclic.block))
            cyclicSamplesAhead += cyclic.block.count
        }
        cyclicSamplesAhead -= samples
    }

    public static let controlDeviceName = "ring-control"
    public static let gpioAttributes = ["amp_enable", "loop_close", "trigger", "interlock"]

    public init(board: Board) {
        self.board = board
        let wiring = board.wiring
        devices = [
            Device(
                id: "iio:device0", name: wiring.adc.device, kind: .adc, channel: wiring.adc.channel,
                attributes: ["sampling_frequency"], channelAttributes: ["raw", "scale"]),
            Device(
                id: "iio:device1", name: wiring.dac.device, kind: .dac, channel: wiring.dac.channel,
                attributes: ["sampling_frequency"], channelAttributes: ["raw", "scale"]),
            Device(
                id: "iio:device2", name: Self.controlDeviceName, kind: .control, channel: nil,
                attributes: Self.gpioAttributes, channelAttributes: []),
        ]
    }

    /// The device a client names: by id, name or label, as iiod matches.
    func device(_ word: String) -> Device? {
        devices.first { $0.id == word || $0.name == word }
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
                body += "<channel id=\"\(channel)\" type=\"\(type)\">"
                body += "<scan-element index=\"0\" format=\"le:u16/16&gt;&gt;0\" scale=\"\(scaleText(device))\" />"
                for attribute in device.channelAttributes {
                    body += "<attribute name=\"\(attribute)\" filename=\"\(prefix)_\(channel)_\(attribute)\" />"
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
