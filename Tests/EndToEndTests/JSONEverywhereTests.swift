import Foundation
import ReservoirTesting
import Testing

/// Every command that does something prints its result as JSON on request: the lab box and
/// scripts read figures, not tables. The commands are read from `--help`, so a new one
/// without `--json` fails here.
@Suite struct JSONEverywhereTests {
    /// The subcommands `ringlab PATH --help` lists.
    static func subcommands(_ path: [String]) throws -> [String] {
        let help = try CommandRunner.ringlab(path + ["--help"]).standardOutput
        guard let section = help.range(of: "SUBCOMMANDS:") else { return [] }
        return help[section.upperBound...].split(separator: "\n").compactMap { line in
            // "  name    abstract": names sit two spaces in; wrapped abstracts sit further in.
            guard line.hasPrefix("  "), !line.hasPrefix("   "), let name = line.split(separator: " ").first
            else { return nil }
            return name == "See" ? nil : String(name)
        }
    }

    @Test func everyLeafCommandTakesJSON() throws {
        var leaves: [[String]] = []
        var pending: [[String]] = try Self.subcommands([]).map { [$0] }
        while let path = pending.popLast() {
            let children = try Self.subcommands(path)
            if children.isEmpty { leaves.append(path) } else { pending += children.map { path + [$0] } }
        }
        #expect(leaves.count >= 15, "\(leaves)")
        for leaf in leaves where leaf != ["help"] {
            let help = try CommandRunner.ringlab(leaf + ["--help"])
            #expect(help.standardOutput.contains("--json"), "ringlab \(leaf.joined(separator: " ")) has no --json")
        }
    }
}
