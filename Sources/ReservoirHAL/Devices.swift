/// The nominal scale of a converter: `bits` over [0, reference).
public struct ConverterFormat: Hashable, Sendable {
    /// Resolution in bits.
    public var bits: Int
    /// Full-scale reference voltage.
    public var reference: Volts

    /// A converter of `bits` bits over [0, `reference`).
    public init(bits: Int, reference: Volts) {
        precondition((1...32).contains(bits), "converter bits must be 1...32")
        self.bits = bits
        self.reference = reference
    }

    /// Number of codes, 2^bits.
    @inlinable
    public var codeCount: Int { 1 << bits }

    /// The highest code, 2^bits − 1 (an ADC at this code is over range).
    @inlinable
    public var maximumCode: Int { codeCount - 1 }

    /// One least-significant bit in volts: reference / 2^bits.
    @inlinable
    public var leastSignificantBit: Volts { Volts(reference.value / Double(codeCount)) }

    /// The volts a code stands for at the nominal scale.
    @inlinable
    public func volts(forCode code: Int) -> Volts { Volts(Double(code) * leastSignificantBit.value) }

    /// The nearest code to `volts`, clamped to the converter's range.
    @inlinable
    public func code(forVolts volts: Volts) -> Int {
        let code = (volts.value / leastSignificantBit.value).rounded()
        return Int(Swift.min(Swift.max(code, 0), Double(maximumCode)))
    }
}

/// The DAC: holds a level, or streams blocks of samples (libiio's output buffer).
public protocol AnalogOutput: AnyObject {
    /// The converter's nominal scale.
    var format: ConverterFormat { get }

    /// Sets the output to a constant level now, ending nothing but overriding any queued
    /// samples. This is the path the safe state uses, so it must work while a stream is open.
    func hold(_ level: Volts) throws(DeviceError)

    /// Opens the one output stream of this device, with blocks of `samplesPerBlock` samples
    /// (libiio: `iio_device_create_buffer(dev, n, false)`).
    func openStream(samplesPerBlock: Int) throws(DeviceError) -> any AnalogOutputStream

    /// Plays `block` over and over until the returned stream is closed (libiio: a cyclic
    /// buffer, `iio_device_create_buffer(dev, n, true)` and one push): a test signal that
    /// needs no host in the loop.
    func playCyclic(_ block: UnsafeBufferPointer<Volts>) throws(DeviceError) -> any CyclicOutput
}

/// A block the DAC repeats until `close`; then the device holds its last level.
public protocol CyclicOutput: AnyObject {
    func close()
}

/// An open DAC stream: each push queues one block, played out at the sample rate.
public protocol AnalogOutputStream: AnyObject {
    /// Samples in every block.
    var samplesPerBlock: Int { get }

    /// Queues one block of exactly `samplesPerBlock` samples (libiio: `iio_buffer_push`).
    /// Blocks while the device's queue is full.
    func push(_ block: UnsafeBufferPointer<Volts>) throws(DeviceError)

    /// Releases the stream; the device holds its last level.
    func close()

    /// Wakes a `push` blocked in another thread (it fails); the stream is unusable after.
    func cancel()
}

/// The ADC: streams blocks of samples (libiio's input buffer).
public protocol AnalogInput: AnyObject {
    /// The converter's nominal scale.
    var format: ConverterFormat { get }

    /// Opens the one input stream of this device, with blocks of `samplesPerBlock` samples.
    func openStream(samplesPerBlock: Int) throws(DeviceError) -> any AnalogInputStream

    /// One conversion now, in volts at the nominal scale (the kernel's `in_voltageN_raw`: a
    /// fresh reading, never a cached one). Works while a stream is open.
    func readOnce() throws(DeviceError) -> Volts
}

/// An open ADC stream: each refill delivers the next block of consecutive samples.
public protocol AnalogInputStream: AnyObject {
    /// Samples in every block.
    var samplesPerBlock: Int { get }

    /// Fills `block` (exactly `samplesPerBlock` samples) with the next samples, in volts at
    /// the converter's nominal scale (libiio: `iio_buffer_refill`). Blocks until they exist.
    func refill(_ block: UnsafeMutableBufferPointer<Volts>) throws(DeviceError)

    /// Releases the stream.
    func close()

    /// Wakes a `refill` blocked in another thread (it fails); the stream is unusable after.
    /// The watchdog calls it, so a stalled network stream cannot hold the loop past it.
    func cancel()
}

extension AnalogInputStream {
    /// A stream whose refills cannot block indefinitely has nothing to wake.
    public func cancel() {}
}

extension AnalogOutputStream {
    /// A stream whose pushes cannot block indefinitely has nothing to wake.
    public func cancel() {}
}

/// A digital output line, set by its logical meaning; active-low wiring is the backend's job.
public protocol DigitalOutputLine: AnyObject {
    /// Asserts (`true`) or deasserts the line.
    func set(_ asserted: Bool) throws(DeviceError)
}

/// A digital input line, read by its logical meaning.
public protocol DigitalInputLine: AnyObject {
    /// Whether the line is asserted now.
    func read() throws(DeviceError) -> Bool

    /// When the line last changed, by the kernel's timestamp of its edge (CLOCK_MONOTONIC,
    /// nanoseconds), draining the edges queued so far; nil when the line reports no edges.
    func lastEdgeNanoseconds() -> Int64?

    /// Whether `read` may be called from another thread while the loop uses the board (a GPIO
    /// character-device line may: each read is one ioctl; a line routed through a libiio
    /// context may not). The watchdog then watches the line too, between the loop's checks.
    var readableFromAnyThread: Bool { get }
}

extension DigitalInputLine {
    /// A line without edge events (an IIO attribute, the twin's) has no timestamp to give.
    public func lastEdgeNanoseconds() -> Int64? { nil }
    public var readableFromAnyThread: Bool { false }
}

/// The time source a board runs on. Instants are durations since the clock's own origin.
///
/// Hardware uses CLOCK_MONOTONIC; the twin in lock-step and tests use a `ManualClock`, so long
/// runs finish in milliseconds and repeat exactly.
public protocol BoardClock: AnyObject {
    /// The current instant.
    func now() -> Duration

    /// Returns at or after `deadline` (at once if it has passed).
    func sleep(until deadline: Duration)
}

/// A clock that moves only when told to: deterministic time for the twin and tests.
public final class ManualClock: BoardClock {
    private var current: Duration

    /// A clock reading `start`.
    public init(start: Duration = .zero) { current = start }

    public func now() -> Duration { current }

    /// Sleeping on a manual clock moves it to the deadline (never backwards).
    public func sleep(until deadline: Duration) {
        if deadline > current { current = deadline }
    }

    /// Moves the clock forward by `interval`.
    public func advance(by interval: Duration) {
        precondition(interval >= .zero, "a clock does not run backwards")
        current += interval
    }
}
