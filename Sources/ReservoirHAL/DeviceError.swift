/// A Linux error number, kept as the number the kernel or library reported.
public struct Errno: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// EIO: input/output error.
    public static let ioError = Errno(rawValue: 5)
    /// EBUSY: the device already has a stream open.
    public static let busy = Errno(rawValue: 16)
    /// ENODEV: no such device.
    public static let noDevice = Errno(rawValue: 19)
    /// EINVAL: invalid argument.
    public static let invalidArgument = Errno(rawValue: 22)
    /// EPIPE: broken stream (libiio's network client reports refill timeouts this way).
    public static let brokenPipe = Errno(rawValue: 32)
    /// ETIMEDOUT: the operation timed out.
    public static let timedOut = Errno(rawValue: 110)

    public var description: String { "errno \(rawValue)" }
}

/// A failure of a device operation: what was being done, on what, and the error number.
///
/// Environment failures (a missing device, a timeout, a failed write) are values of this type;
/// programmer errors trap instead.
public struct DeviceError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, in the terms a caller acts on.
    public enum Kind: Sendable, Equatable {
        /// A refill or push did not complete in time.
        case timedOut
        /// The device reported an I/O failure.
        case ioFailure
        /// A device, channel or line named in the board file does not exist.
        case notFound
        /// The device is already in use (a second stream on one device).
        case busy
        /// The request itself was invalid (a block of the wrong size, a closed stream).
        case invalidRequest
    }

    /// The category of failure.
    public var kind: Kind
    /// The error number from the kernel or library, when there is one.
    public var errno: Errno?
    /// What was being done, e.g. `refill of ADC "ring-adc"`.
    public var operation: String
    /// What was expected and what was found, in words.
    public var detail: String

    /// A device error of `kind` during `operation`.
    public init(_ kind: Kind, errno: Errno? = nil, operation: String, detail: String) {
        self.kind = kind
        self.errno = errno
        self.operation = operation
        self.detail = detail
    }

    public var description: String {
        let number = errno.map { " (\($0))" } ?? ""
        return "\(operation) failed: \(detail)\(number)"
    }
}
