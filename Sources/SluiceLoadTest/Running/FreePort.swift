import Foundation

/// A TCP port on 127.0.0.1 that was free a moment ago: bound to port 0, read back, closed.
/// Used when one child must know another's address before that one starts (the mock's
/// webhook URL names the dispatcher's API port). Another process could take it in between;
/// the child then fails to bind and the run reports that.
enum FreePort {
    static func loopback() throws -> Int {
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw LoadTestError.invalidConfiguration("socket() failed: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0 else { throw LoadTestError.invalidConfiguration("bind(127.0.0.1:0) failed: errno \(errno)") }
        var actual = sockaddr_in()
        var actualLength = length
        let named = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &actualLength) }
        }
        guard named == 0 else { throw LoadTestError.invalidConfiguration("getsockname failed: errno \(errno)") }
        return Int(UInt16(bigEndian: actual.sin_port))
    }
}
