import Foundation
import Hummingbird
import LabBox
import NIOCore
import Synchronization

/// The request context of the box: request bodies bounded at 64 KiB (a job is an argument
/// vector, not a file upload).
struct BoxContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }
    var maxUploadSize: Int { 64 * 1024 }
}

/// Every endpoint but the health check and the page's static files needs the bearer token
/// (the page holds no data: it asks the API with the token the operator gives it). Requests
/// are rate-limited by a token bucket, so a runaway script gets 429s instead of the CPU the
/// drive loop shares.
struct BoxGuard: RouterMiddleware {
    typealias Context = BoxContext
    let token: BoxToken
    let bucket: RateBucket

    static func isPublic(_ path: String) -> Bool {
        path == "/healthz" || path == "/" || path == "/favicon.ico" || path.hasPrefix("/static/")
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        if request.uri.path == "/healthz" { return try await next(request, context) }
        guard bucket.take() else {
            throw HTTPError(.tooManyRequests, message: "rate limit: at most \(Int(bucket.rate)) requests a second")
        }
        if !Self.isPublic(request.uri.path) && !token.accepts(authorization: request.headers[.authorization]) {
            return Response(
                status: .unauthorized, headers: [.wwwAuthenticate: "Bearer realm=\"ringlab-box\"", .contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: #"{"error":"a bearer token is required (see <state>/token)"}"#)))
        }
        return try await next(request, context)
    }
}

/// A token bucket: `rate` tokens a second, at most `burst` saved.
final class RateBucket: Sendable {
    let rate: Double
    let burst: Double
    let state: Mutex<(tokens: Double, last: ContinuousClock.Instant)>

    init(rate: Double, burst: Double) {
        self.rate = rate
        self.burst = burst
        state = Mutex((burst, ContinuousClock.now))
    }

    func take() -> Bool {
        state.withLock { state in
            let now = ContinuousClock.now
            let elapsed = now - state.last
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            state.tokens = min(burst, state.tokens + seconds * rate)
            state.last = now
            guard state.tokens >= 1 else { return false }
            state.tokens -= 1
            return true
        }
    }
}

/// JSON answers from plain dictionaries and arrays (the summaries are ringlab's JSON, kept as is).
func jsonResponse(_ object: Any, status: HTTPResponse.Status = .ok) throws -> Response {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    return Response(
        status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
        body: .init(byteBuffer: ByteBuffer(bytes: data)))
}
