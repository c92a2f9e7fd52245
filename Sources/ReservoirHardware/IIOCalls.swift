import CIIO
import ReservoirHAL

#if canImport(Glibc)
    import Glibc
#endif

/// Every call into libiio goes through this file (docs/architecture.md, convention 1). Each
/// wrapper turns libiio's negative error codes into a `DeviceError` naming the operation.
enum IIOCalls {
    /// libiio's version (`iio_library_get_version`), e.g. "0.24 (v0.24)".
    static func libraryVersion() -> String {
        var major: UInt32 = 0
        var minor: UInt32 = 0
        var tag = [CChar](repeating: 0, count: 8)
        iio_library_get_version(&major, &minor, &tag)
        let tagText = tag.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        return "\(major).\(minor) (\(tagText))"
    }

    static func error(_ code: Int, _ operation: String, _ detail: String) -> DeviceError {
        let number = Int32(clamping: abs(code))
        let kind: DeviceError.Kind
        switch number {
        case ETIMEDOUT, EAGAIN: kind = .timedOut
        case ENODEV, ENOENT, ENXIO: kind = .notFound
        case EBUSY: kind = .busy
        case EINVAL: kind = .invalidRequest
        default: kind = .ioFailure
        }
        return DeviceError(
            kind, errno: Errno(rawValue: number), operation: operation,
            detail: "\(detail): \(String(cString: strerror(number)))")
    }

    /// A context from `uri` (libiio gets its own copy of the string; it may outlive ours).
    static func createContext(uri: String) throws(DeviceError) -> OpaquePointer {
        let copy = strdup(uri)!
        defer { free(copy) }
        guard let context = iio_create_context_from_uri(copy) else {
            throw error(Int(errno), "open IIO context \"\(uri)\"", "no context")
        }
        return context
    }

    static func destroyContext(_ context: OpaquePointer) { iio_context_destroy(context) }

    static func setTimeout(_ context: OpaquePointer, milliseconds: UInt32) throws(DeviceError) {
        let result = iio_context_set_timeout(context, milliseconds)
        if result < 0 { throw error(Int(result), "set the IIO timeout", "\(milliseconds) ms") }
    }

    static func device(_ context: OpaquePointer, named name: String) throws(DeviceError) -> OpaquePointer {
        guard let device = iio_context_find_device(context, name) else {
            throw DeviceError(
                .notFound, errno: Errno(rawValue: ENODEV), operation: "find IIO device \"\(name)\"",
                detail: "the context has \(deviceNames(context).joined(separator: ", "))")
        }
        return device
    }

    static func deviceNames(_ context: OpaquePointer) -> [String] {
        (0..<iio_context_get_devices_count(context)).compactMap { index in
            iio_context_get_device(context, index).flatMap { iio_device_get_name($0) ?? iio_device_get_id($0) }
                .map { String(cString: $0) }
        }
    }

    static func channel(_ device: OpaquePointer, id: String, output: Bool) throws(DeviceError) -> OpaquePointer {
        guard let channel = iio_device_find_channel(device, id, output) else {
            throw DeviceError(
                .notFound, errno: Errno(rawValue: ENXIO),
                operation: "find \(output ? "output" : "input") channel \"\(id)\"",
                detail: "the device has no such channel")
        }
        return channel
    }

    static func enable(_ channel: OpaquePointer) { iio_channel_enable(channel) }
    static func disable(_ channel: OpaquePointer) { iio_channel_disable(channel) }

    static func createBuffer(_ device: OpaquePointer, samples: Int, cyclic: Bool = false, operation: String)
        throws(DeviceError) -> OpaquePointer
    {
        guard let buffer = iio_device_create_buffer(device, samples, cyclic) else {
            throw error(Int(errno), operation, "cannot create a buffer of \(samples) samples")
        }
        return buffer
    }

    static func destroyBuffer(_ buffer: OpaquePointer) { iio_buffer_destroy(buffer) }

    /// Wakes a refill or push blocked on `buffer` in another thread (`iio_buffer_cancel`: it
    /// returns -EBADF); the buffer can only be destroyed after.
    static func cancel(_ buffer: OpaquePointer) { iio_buffer_cancel(buffer) }

    /// Refills `buffer`; its samples as u16 codes of `channel` into `codes`.
    static func refill(
        _ buffer: OpaquePointer, channel: OpaquePointer, into codes: UnsafeMutableBufferPointer<UInt16>,
        operation: String
    ) throws(DeviceError) {
        let result = iio_buffer_refill(buffer)
        if result < 0 { throw error(result, operation, "refill") }
        let step = iio_buffer_step(buffer)
        guard var pointer = iio_buffer_first(buffer, channel) else {
            throw DeviceError(.ioFailure, operation: operation, detail: "the channel is not in the buffer")
        }
        let end = iio_buffer_end(buffer)!
        var index = 0
        // iio_channel_convert applies the channel's byte order, shift and sign (a big-endian
        // `be:u12/16>>0` SPI ADC and the twin's `le:u16/16` alike) into 16 bits of storage.
        while pointer < end, index < codes.count {
            withUnsafeMutableBytes(of: &codes[index]) { iio_channel_convert(channel, $0.baseAddress!, pointer) }
            pointer += step
            index += 1
        }
        guard index == codes.count else {
            throw DeviceError(
                .ioFailure, operation: operation, detail: "short refill: \(index) of \(codes.count) samples")
        }
    }

    /// Writes `codes` into `buffer` as u16 little-endian samples of `channel` and pushes it.
    static func push(
        _ buffer: OpaquePointer, channel: OpaquePointer, codes: UnsafeBufferPointer<UInt16>, operation: String
    ) throws(DeviceError) {
        let step = iio_buffer_step(buffer)
        guard var pointer = iio_buffer_first(buffer, channel) else {
            throw DeviceError(.ioFailure, operation: operation, detail: "the channel is not in the buffer")
        }
        for code in codes {
            pointer.storeBytes(of: code.littleEndian, as: UInt16.self)
            pointer += step
        }
        let result = iio_buffer_push(buffer)
        if result < 0 { throw error(result, operation, "push") }
    }

    /// How a channel's samples are stored (`iio_channel_get_data_format`): bytes per sample,
    /// valid bits and sign.
    static func sampleFormat(_ channel: OpaquePointer) -> (storageBytes: Int, bits: Int, signed: Bool) {
        guard let format = iio_channel_get_data_format(channel)?.pointee else { return (0, 0, false) }
        return (Int(format.length) / 8 * Int(max(format.repeat, 1)), Int(format.bits), format.is_signed)
    }

    /// A channel attribute's number, or nil when the channel has no such attribute (the
    /// kernel's `scale` and `offset` are optional).
    static func number(_ channel: OpaquePointer, attribute: String) -> Double? {
        guard iio_channel_find_attr(channel, attribute) != nil else { return nil }
        var value = 0.0
        return iio_channel_attr_read_double(channel, attribute, &value) == 0 ? value : nil
    }

    /// Whether `device` has the device attribute `attribute`.
    static func hasAttribute(_ device: OpaquePointer, _ attribute: String) -> Bool {
        iio_device_find_attr(device, attribute) != nil
    }

    /// Clocks `device`'s buffer from `trigger` (a trigger device of the same context).
    static func setTrigger(_ device: OpaquePointer, _ trigger: OpaquePointer, operation: String) throws(DeviceError) {
        let result = iio_device_set_trigger(device, trigger)
        if result < 0 { throw error(Int(result), operation, "set the trigger") }
    }

    static func isTrigger(_ device: OpaquePointer) -> Bool { iio_device_is_trigger(device) }

    /// The sysfs file of a channel attribute in a local context
    /// (`/sys/bus/iio/devices/iio:device0/out_voltage0_raw`).
    static func sysfsPath(_ device: OpaquePointer, _ channel: OpaquePointer, attribute: String) -> String {
        let id = iio_device_get_id(device).map { String(cString: $0) } ?? "?"
        let file = iio_channel_attr_get_filename(channel, attribute).map { String(cString: $0) } ?? attribute
        return "/sys/bus/iio/devices/\(id)/\(file)"
    }

    static func writeAttribute(
        _ device: OpaquePointer, channel: OpaquePointer?, attribute: String, value: String, operation: String
    ) throws(DeviceError) {
        let result =
            channel.map { iio_channel_attr_write($0, attribute, value) }
            ?? iio_device_attr_write(device, attribute, value)
        if result < 0 { throw error(result, operation, "write \(attribute) = \(value)") }
    }

    static func readAttribute(_ device: OpaquePointer, channel: OpaquePointer?, attribute: String, operation: String)
        throws(DeviceError) -> String
    {
        var text = [CChar](repeating: 0, count: 256)
        let result =
            channel.map { iio_channel_attr_read($0, attribute, &text, text.count) }
            ?? iio_device_attr_read(device, attribute, &text, text.count)
        if result < 0 { throw error(result, operation, "read \(attribute)") }
        return text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// Reads a device attribute into `text` (`capacity` bytes, NUL-terminated): no allocation,
    /// for the lines read every period.
    static func readAttribute(
        _ device: OpaquePointer, attribute: UnsafePointer<CChar>, into text: UnsafeMutablePointer<CChar>, capacity: Int,
        operation: String
    ) throws(DeviceError) {
        text[0] = 0
        let result = iio_device_attr_read(device, attribute, text, capacity)
        if result < 0 { throw error(result, operation, "read \(String(cString: attribute))") }
    }

    /// Writes a device attribute from C strings: no allocation, for the lines set every period.
    static func writeAttribute(
        _ device: OpaquePointer, attribute: UnsafePointer<CChar>, value: UnsafePointer<CChar>, operation: String
    ) throws(DeviceError) {
        let result = iio_device_attr_write(device, attribute, value)
        if result < 0 {
            throw error(result, operation, "write \(String(cString: attribute)) = \(String(cString: value))")
        }
    }

    /// Everything a context holds, for `ringlab info`: device → (channels, attributes).
    static func describe(_ context: OpaquePointer) -> [(device: String, channels: [String], attributes: [String])] {
        (0..<iio_context_get_devices_count(context)).compactMap { index in
            guard let device = iio_context_get_device(context, index) else { return nil }
            let name = (iio_device_get_name(device) ?? iio_device_get_id(device)).map { String(cString: $0) } ?? "?"
            let channels = (0..<iio_device_get_channels_count(device)).compactMap { number -> String? in
                guard let channel = iio_device_get_channel(device, number), let id = iio_channel_get_id(channel)
                else { return nil }
                let direction = iio_channel_is_output(channel) ? "output" : "input"
                let scan = iio_channel_is_scan_element(channel) ? ", streams" : ""
                return "\(String(cString: id)) (\(direction)\(scan))"
            }
            let attributes = (0..<iio_device_get_attrs_count(device)).compactMap { number in
                iio_device_get_attr(device, number).map { String(cString: $0) }
            }
            return (name, channels, attributes)
        }
    }
}
