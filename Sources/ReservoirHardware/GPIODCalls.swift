import CGPIOD

/// Every call into libgpiod goes through this file (docs/architecture.md, convention 1).
enum GPIODCalls {
    /// libgpiod's version (`gpiod_version_string`), e.g. "1.6.3".
    static func versionString() -> String {
        String(cString: gpiod_version_string())
    }
}
