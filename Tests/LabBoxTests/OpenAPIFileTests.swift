import Foundation
import ReservoirTesting
import Testing

/// docs/box-api.yaml stays true: every route the service registers is documented there, and
/// every documented path is served.
@Suite struct OpenAPIFileTests {
    @Test func everyRouteIsInTheOpenAPIFileAndBack() throws {
        let root = TwinFixtures.packageRoot
        let spec = try String(contentsOfFile: root + "/docs/box-api.yaml", encoding: .utf8)
        let documented = Set(
            spec.split(separator: "\n").filter { $0.hasPrefix("  /") && $0.hasSuffix(":") }
                .map { String($0.dropFirst(2).dropLast()) })
        var served: Set<String> = ["/healthz", "/metrics", "/"]
        let routes = try String(contentsOfFile: root + "/Sources/ringlab-box/Box.swift", encoding: .utf8)
        let pattern = try NSRegularExpression(pattern: #"api\.(get|post|patch|put|delete)\("([^"]+)"\)"#)
        for match in pattern.matches(in: routes, range: NSRange(routes.startIndex..., in: routes)) {
            let path = String(routes[Range(match.range(at: 2), in: routes)!])
            served.insert("/api/v1/" + path.replacingOccurrences(of: #":(\w+)"#, with: "{$1}", options: .regularExpression))
        }
        #expect(served.count > 15)
        #expect(served.subtracting(documented).isEmpty, "served but not documented: \(served.subtracting(documented))")
        #expect(documented.subtracting(served).isEmpty, "documented but not served: \(documented.subtracting(served))")
    }
}
