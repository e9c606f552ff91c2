/// Stops a campaign that is failing the same permanent way for everyone — a template
/// with a parameter too many (132000), a number that may not send (131031) — before it
/// burns its recipients: when its first `limit` outcomes are all permanent failures with
/// one code, the campaign is paused with that reason. One success, a second code, or the
/// owner's resume after such a pause disarms it for good.
public struct FailureGuard: Sendable, Equatable {
    public let limit: Int
    public private(set) var armed: Bool
    public private(set) var code: Int32?
    public private(set) var failures = 0
    public private(set) var lastMessage: String?

    /// `armed` false for a campaign that already had outcomes (before a restart).
    public init(limit: Int, armed: Bool = true) {
        self.limit = limit
        self.armed = armed && limit > 0
    }

    public mutating func succeeded() { armed = false }

    /// A permanent failure; true when it is the `limit`-th in a row with the same code:
    /// pause now (the guard is then disarmed).
    public mutating func failed(code: Int32, message: String?) -> Bool {
        guard armed else { return false }
        if let known = self.code, known != code {
            armed = false
            return false
        }
        self.code = code
        failures += 1
        lastMessage = message
        guard failures >= limit else { return false }
        armed = false
        return true
    }

    /// What the pause says.
    public var reason: String {
        let text = lastMessage.map { " (\($0.prefix(200)))" } ?? ""
        return "its first \(failures) messages all failed with error \(code ?? 0)\(text): paused before sending the rest; resume to send them anyway"
    }
}
