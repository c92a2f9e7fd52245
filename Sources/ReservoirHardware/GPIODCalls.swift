import CGPIOD
import ReservoirHAL

#if canImport(Glibc)
    import Glibc
#endif

/// Every call into libgpiod goes through this file (docs/architecture.md, convention 1).
enum GPIODCalls {
    /// libgpiod's version (`gpiod_version_string`), e.g. "1.6.3".
    static func versionString() -> String {
        String(cString: gpiod_version_string())
    }

    static let consumer = "ringlab"

    static func failure(_ operation: String, _ detail: String) -> DeviceError {
        let number = errno
        return DeviceError(
            number == EBUSY ? .busy : (number == ENOENT || number == ENODEV ? .notFound : .ioFailure),
            errno: Errno(rawValue: number), operation: operation,
            detail: "\(detail): \(String(cString: strerror(number)))")
    }

    /// The chip by name, path, label or number (`gpiod_chip_open_lookup`).
    static func openChip(_ name: String) throws(DeviceError) -> OpaquePointer {
        guard let chip = gpiod_chip_open_lookup(name) else {
            throw failure("open GPIO chip \"\(name)\"", "no such chip")
        }
        return chip
    }

    static func closeChip(_ chip: OpaquePointer) { gpiod_chip_close(chip) }

    static func line(_ chip: OpaquePointer, offset: Int, chipName: String) throws(DeviceError) -> OpaquePointer {
        guard let line = gpiod_chip_get_line(chip, UInt32(offset)) else {
            throw failure("get line \(offset) of \(chipName)", "no such line")
        }
        return line
    }

    /// The line named `name` on `chip` (`gpiod_chip_find_line`).
    static func line(_ chip: OpaquePointer, named name: String, chipName: String) throws(DeviceError) -> OpaquePointer {
        guard let line = gpiod_chip_find_line(chip, name) else {
            throw failure("find line \"\(name)\" on \(chipName)", "no line of that name")
        }
        return line
    }

    /// Requests `line` as an output at `asserted` (logical level; active-low in the flags).
    static func requestOutput(_ line: OpaquePointer, activeLow: Bool, asserted: Bool, role: String) throws(DeviceError)
    {
        let flags = activeLow ? Int32(GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW) : 0
        if gpiod_line_request_output_flags(line, consumer, flags, asserted ? 1 : 0) != 0 {
            throw failure("request GPIO \(role) as an output", "request refused")
        }
    }

    /// Requests `line` as an input watched for both edges (its events arrive on its fd).
    static func requestInput(_ line: OpaquePointer, activeLow: Bool, role: String) throws(DeviceError) {
        let flags = activeLow ? Int32(GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW) : 0
        if gpiod_line_request_both_edges_events_flags(line, consumer, flags) != 0 {
            throw failure("request GPIO \(role) as an input", "request refused")
        }
    }

    static func set(_ line: OpaquePointer, _ asserted: Bool, role: String) throws(DeviceError) {
        if gpiod_line_set_value(line, asserted ? 1 : 0) != 0 { throw failure("set GPIO \(role)", "write refused") }
    }

    static func get(_ line: OpaquePointer, role: String) throws(DeviceError) -> Bool {
        let value = gpiod_line_get_value(line)
        if value < 0 { throw failure("read GPIO \(role)", "read refused") }
        return value == 1
    }

    /// The timestamp (ns, CLOCK_MONOTONIC: the v1 uAPI's `ktime_get_ns`) of the newest edge
    /// queued on an input line, reading every queued event; nil when none is queued.
    static func newestEdgeNanoseconds(_ line: OpaquePointer) -> Int64? {
        var newest: Int64?
        var now = timespec(tv_sec: 0, tv_nsec: 0)
        var event = gpiod_line_event()
        while gpiod_line_event_wait(line, &now) == 1, gpiod_line_event_read(line, &event) == 0 {
            newest = Int64(event.ts.tv_sec) * 1_000_000_000 + Int64(event.ts.tv_nsec)
        }
        return newest
    }

    /// The file descriptor the line's edge events arrive on (poll it for readability).
    static func eventDescriptor(_ line: OpaquePointer) -> Int32 { gpiod_line_event_get_fd(line) }

    static func release(_ line: OpaquePointer) { gpiod_line_release(line) }

    /// Every GPIO chip the kernel has (`gpiod_chip_iter`): name, label and each line's
    /// offset, name and consumer (who holds it, if anyone). No chips (or no /dev/gpiochip*
    /// access) gives an empty list.
    static func describeChips() -> [GPIOChipInventory] {
        guard let iterator = gpiod_chip_iter_new() else { return [] }
        defer { gpiod_chip_iter_free(iterator) }
        var chips: [GPIOChipInventory] = []
        while let chip = gpiod_chip_iter_next(iterator) {
            let lines = (0..<gpiod_chip_num_lines(chip)).compactMap { offset -> GPIOChipInventory.Line? in
                guard let line = gpiod_chip_get_line(chip, offset) else { return nil }
                return GPIOChipInventory.Line(
                    offset: Int(offset), name: gpiod_line_name(line).map { String(cString: $0) },
                    consumer: gpiod_line_consumer(line).map { String(cString: $0) },
                    output: gpiod_line_direction(line) == Int32(GPIOD_LINE_DIRECTION_OUTPUT))
            }
            chips.append(
                GPIOChipInventory(
                    name: String(cString: gpiod_chip_name(chip)), label: String(cString: gpiod_chip_label(chip)),
                    lines: lines))
        }
        return chips
    }
}

/// One GPIO chip as `ringlab info` lists it.
public struct GPIOChipInventory: Sendable, Encodable {
    public var name: String
    public var label: String
    public var lines: [Line]

    public struct Line: Sendable, Encodable {
        public var offset: Int
        public var name: String?
        /// Who holds the line ("ringlab" while a board is open), nil when free.
        public var consumer: String?
        public var output: Bool
    }
}
