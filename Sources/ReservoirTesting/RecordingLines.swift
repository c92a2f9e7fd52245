import ReservoirHAL

/// A digital output that records every value it is set to, and can be told to fail: a fake for
/// GPIO character devices, which do not exist on build machines.
public final class RecordingOutputLine: DigitalOutputLine {
    /// Every value set, in order.
    public private(set) var history: [Bool] = []
    /// When set, every `set` throws this error (after recording nothing).
    public var failure: DeviceError?

    public init() {}

    public func set(_ asserted: Bool) throws(DeviceError) {
        if let failure { throw failure }
        history.append(asserted)
    }
}
