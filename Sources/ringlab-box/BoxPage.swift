import Foundation
import Hummingbird
import NIOCore

/// The live page: static files from the installation's `box/page/` (no build step) and
/// Chart.js from Debian's libjs-chart.js, served by the box itself (lab networks have no
/// internet). The page holds no data; it reads the API with the operator's token.
extension Box {
    static let chartJS = "/usr/share/javascript/chart.js/chart.min.js"

    static func pageFolder() -> String? {
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        let candidates: [String?] = [
            ProcessInfo.processInfo.environment["RINGLAB_HOME"].map { $0 + "/box/page" },
            FileManager.default.currentDirectoryPath + "/box/page",
            executable.appendingPathComponent("../../../box/page").standardized.path,
            executable.appendingPathComponent("../share/ringlab/box/page").standardized.path,
        ]
        return candidates.compactMap { $0 }.first { FileManager.default.fileExists(atPath: $0 + "/index.html") }
    }

    func addPage(to router: Router<BoxContext>) {
        let folder = Self.pageFolder()
        let files: [String: (path: String, type: String)] = [
            "/": ((folder ?? "") + "/index.html", "text/html; charset=utf-8"),
            "/static/app.js": ((folder ?? "") + "/app.js", "text/javascript; charset=utf-8"),
            "/static/style.css": ((folder ?? "") + "/style.css", "text/css; charset=utf-8"),
            "/static/chart.js": (Self.chartJS, "text/javascript; charset=utf-8"),
        ]
        router.get("/favicon.ico") { _, _ in Response(status: .noContent) }
        for (route, file) in files {
            router.get(RouterPath(route)) { _, _ in
                guard let data = FileManager.default.contents(atPath: file.path) else {
                    throw HTTPError(.notFound, message: "\(file.path) is missing (make install, or apt install libjs-chart.js)")
                }
                return Response(
                    status: .ok, headers: [.contentType: file.type, .cacheControl: "no-cache"],
                    body: .init(byteBuffer: ByteBuffer(bytes: data)))
            }
        }
    }
}
