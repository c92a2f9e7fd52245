import ReservoirHAL

/// A GPIO role routed to an IIO device attribute that reads and writes 0 or 1.
final class IIOAttributeLine: DigitalOutputLine, DigitalInputLine {
    let context: IIOContextHandle
    let device: OpaquePointer
    let attribute: String
    let activeLow: Bool

    init(context: IIOContextHandle, device name: String, attribute: String, activeLow: Bool) throws(DeviceError) {
        self.context = context
        device = try IIOCalls.device(context.pointer, named: name)
        self.attribute = attribute
        self.activeLow = activeLow
    }

    /// Built once, with the read buffer: the heartbeat and the interlock are set and read every
    /// period, and the period's path does not allocate.
    private lazy var setOperation = "set line \(attribute)"
    private lazy var readOperation = "read line \(attribute)"
    private let text = UnsafeMutablePointer<CChar>.allocate(capacity: 64)
    /// The attribute's name as a C string: bridging a Swift string to C allocates.
    private lazy var cAttribute: UnsafeMutablePointer<CChar> = {
        let bytes = Array(attribute.utf8CString)
        let copy = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count)
        copy.initialize(from: bytes, count: bytes.count)
        return copy
    }()
    private static let one: StaticString = "1"
    private static let zero: StaticString = "0"

    deinit {
        text.deallocate()
        cAttribute.deallocate()
    }

    func set(_ asserted: Bool) throws(DeviceError) {
        let value = asserted != activeLow ? Self.one : Self.zero
        try IIOCalls.writeAttribute(
            device, attribute: cAttribute,
            value: UnsafeRawPointer(value.utf8Start).assumingMemoryBound(to: CChar.self), operation: setOperation)
    }

    func read() throws(DeviceError) -> Bool {
        try IIOCalls.readAttribute(device, attribute: cAttribute, into: text, capacity: 64, operation: readOperation)
        return (text[0] == CChar(UInt8(ascii: "1"))) != activeLow
    }
}
