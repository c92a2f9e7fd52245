import ArgumentParser
import ReservoirHardware

/// `ringlab version`: this build and the C libraries it links.
struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version", abstract: "Print the versions of ringlab and of the libraries it links.")

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    func run() throws {
        if json {
            try printJSON([
                "ringlab": ringlabVersion, "libiio": NativeLibraries.iioVersion, "libgpiod": NativeLibraries.gpiodVersion,
            ])
            return
        }
        print("ringlab \(ringlabVersion)")
        print("libiio \(NativeLibraries.iioVersion)")
        print("libgpiod \(NativeLibraries.gpiodVersion)")
    }
}

/// The version of this build (kept in step with CHANGELOG.md).
let ringlabVersion = "0.1.0"
