import Foundation

/// The box's bearer token: 32 random bytes as hex in `<state>/token` (mode 0600, created
/// with O_EXCL at first start, read afterwards), compared in constant time.
public struct BoxToken: Sendable {
    public let value: String

    public init(value: String) { self.value = value }

    /// Reads `path`, or creates it with a new token when it does not exist.
    public static func loadOrCreate(at path: String) throws -> BoxToken {
        if let data = FileManager.default.contents(atPath: path) {
            let value = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard value.utf8.count >= 32 else {
                throw JobRequestError("\(path): the token must be at least 32 characters; delete the file to get a new one")
            }
            return BoxToken(value: value)
        }
        var bytes = [UInt8](repeating: 0, count: 32)
        var generator = SystemRandomNumberGenerator()
        for index in bytes.indices { bytes[index] = UInt8.random(in: 0...255, using: &generator) }
        let value = bytes.map { String(format: "%02x", $0) }.joined()
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard descriptor >= 0 else {
            throw JobRequestError("\(path): cannot create the token file (\(String(cString: strerror(errno))))")
        }
        defer { close(descriptor) }
        let line = Array((value + "\n").utf8)
        guard write(descriptor, line, line.count) == line.count, fsync(descriptor) == 0 else {
            throw JobRequestError("\(path): cannot write the token (\(String(cString: strerror(errno))))")
        }
        return BoxToken(value: value)
    }

    /// Whether an `Authorization` header carries this token: the comparison takes the same time
    /// wherever the first difference lies.
    public func accepts(authorization: String?) -> Bool {
        guard let authorization, authorization.hasPrefix("Bearer ") else { return false }
        let offered = Array(authorization.dropFirst("Bearer ".count).utf8)
        let expected = Array(value.utf8)
        var difference = UInt8(offered.count == expected.count ? 0 : 1)
        for index in expected.indices {
            difference |= expected[index] ^ (index < offered.count ? offered[index] : 0)
        }
        return difference == 0
    }
}
