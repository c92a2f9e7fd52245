import ArgumentParser
import Foundation

/// Runs a command body, turning any error into one line on stderr and exit status 1, so
/// that a bad file or a device failure reads as a message, not a stack of usage text.
func reportingErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let exit as ExitCode {
        throw exit
    } catch {
        FileHandle.standardError.write(Data("ringlab: \(error)\n".utf8))
        throw ExitCode.failure
    }
}

/// Prints `value` as pretty, key-sorted JSON on stdout.
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// Progress lines on stderr, only when a person is watching it.
func progressReporter(_ command: String) -> (String) -> Void {
    guard isatty(STDERR_FILENO) != 0 else { return { _ in } }
    return { stage in FileHandle.standardError.write(Data("\(command): \(stage)…\n".utf8)) }
}

/// A numeric option and the range it must lie in; `check` names the option, what was found and
/// the range, and refuses NaN and infinities.
struct NumericOption {
    var name: String
    var value: Double?
    var range: ClosedRange<Double>

    init(_ name: String, _ value: Double?, _ range: ClosedRange<Double>) {
        self.name = name
        self.value = value
        self.range = range
    }

    func check() throws {
        guard let value else { return }
        guard value.isFinite, range.contains(value) else {
            throw ValidationError("\(name) must be a number from \(Self.text(range.lowerBound)) to \(Self.text(range.upperBound)); found \(value.isFinite ? Self.text(value) : String(value))")
        }
    }

    private static func text(_ bound: Double) -> String {
        bound == bound.rounded() && abs(bound) < 1e15 ? String(Int(bound)) : String(bound)
    }
}
