/// What the departure record of a stopped process says about its sends: which messages
/// had begun to leave, and since when it knows. Read at start, before the journal turns
/// what was `in_flight` into `in_doubt`.
///
/// A message whose id is not in `departed` never reached the wire, provided it was staged
/// inside the covered span: a record that wrapped around only knows the messages staged
/// after its oldest entry (`coveredFromMilliseconds`), with `slackMilliseconds` for the
/// wall clock stepping back between staging and departure.
public struct DepartureEvidence: Sendable, Equatable {
    /// Message ids whose request libcurl was about to write (or wrote).
    public var departed: Set<UInt64>
    /// Wall-clock milliseconds of the oldest departure kept, when the record wrapped;
    /// nil when it holds every departure since it was reset.
    public var coveredFromMilliseconds: Int64?

    /// Allowance for a wall clock that stepped back while messages were in flight.
    public static let slackMilliseconds: Int64 = 60_000

    public init(departed: Set<UInt64>, coveredFromMilliseconds: Int64? = nil) {
        self.departed = departed
        self.coveredFromMilliseconds = coveredFromMilliseconds
    }

    /// Whether the message, `in_flight` since `stagedMilliseconds`, certainly never left.
    public func neverLeft(_ id: UInt64, stagedMilliseconds: Int64) -> Bool {
        if departed.contains(id) { return false }
        guard let from = coveredFromMilliseconds else { return true }
        return stagedMilliseconds >= from + Self.slackMilliseconds
    }
}
