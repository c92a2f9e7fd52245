import CIIO

/// Every call into libiio goes through this file (docs/architecture.md, convention 1).
enum IIOCalls {
    /// libiio's version (`iio_library_get_version`), e.g. "0.24 (v0.24)".
    static func libraryVersion() -> String {
        var major: UInt32 = 0
        var minor: UInt32 = 0
        var tag = [CChar](repeating: 0, count: 8)
        iio_library_get_version(&major, &minor, &tag)
        let tagText = tag.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        return "\(major).\(minor) (\(tagText))"
    }
}
