import Foundation
import Hummingbird
import LabBox
import NIOCore
import Synchronization

/// The request context of the box: request bodies bounded at 64 KiB (a job is an argument
/// vector, not a file upload).
struct BoxContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// The client's address: the rate limit is per client address.
    let remoteAddress: String
    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }
    var maxUploadSize: Int { 64 * 1024 }
}

/// Every endpoint but the health check and the page's static files needs the bearer token
/// (the page holds no data: it asks the API with the token the operator gives it). Requests
/// are rate-limited by a token bucket per client address, so a runaway script gets 429s (with
/// Retry-After) instead of the CPU the drive loop shares.
struct BoxGuard: RouterMiddleware {
    typealias Context = BoxContext
    let token: BoxToken
    let buckets: RateBuckets

    static func isPublic(_ path: String) -> Bool {
        path == "/healthz" || path == "/" || path == "/favicon.ico" || path.hasPrefix("/static/")
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        if request.uri.path == "/healthz" { return try await next(request, context) }
        guard buckets.take(for: context.remoteAddress) else {
            return Response(
                status: .tooManyRequests, headers: [.retryAfter: "1", .contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: #"{"error":"rate limit: at most \#(Int(buckets.rate)) requests a second per client"}"#)))
        }
        if !Self.isPublic(request.uri.path) && !token.accepts(authorization: request.headers[.authorization]) {
            return Response(
                status: .unauthorized, headers: [.wwwAuthenticate: "Bearer realm=\"ringlab-box\"", .contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: #"{"error":"a bearer token is required (see <state>/token)"}"#)))
        }
        return try await next(request, context)
    }
}

/// Token buckets per client address: `rate` tokens a second, at most `burst` saved. At most
/// `maximumClients` addresses are remembered; beyond that the idlest are forgotten.
final class RateBuckets: Sendable {
    let rate: Double
    let burst: Double
    let maximumClients = 1024
    let buckets = Mutex<[String: (tokens: Double, last: ContinuousClock.Instant)]>([:])

    init(rate: Double, burst: Double) {
        self.rate = rate
        self.burst = burst
    }

    func take(for client: String) -> Bool {
        buckets.withLock { buckets in
            let now = ContinuousClock.now
            if buckets[client] == nil && buckets.count >= maximumClients {
                let idlest = buckets.min { $0.value.last < $1.value.last }!.key
                buckets[idlest] = nil
            }
            var bucket = buckets[client] ?? (burst, now)
            let elapsed = now - bucket.last
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            bucket.tokens = min(burst, bucket.tokens + seconds * rate)
            bucket.last = now
            let granted = bucket.tokens >= 1
            if granted { bucket.tokens -= 1 }
            buckets[client] = bucket
            return granted
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
