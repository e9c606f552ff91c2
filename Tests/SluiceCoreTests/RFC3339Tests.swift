import Foundation
import SluiceCore
import Testing

@Suite struct RFC3339Tests {
    /// Foundation's formatter, the reference.
    static func reference(_ ms: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
    }

    @Test("agrees with Foundation's formatter: the epoch, leap days, century years, the last millisecond of a year, and a spread of instants")
    func agreesWithFoundation() {
        let fixed: [Int64] = [
            0, 1, 999, 1_000, 951_782_400_000, 951_868_799_999, 4_107_542_400_000, 1_750_000_000_123, 1_798_761_599_999,
            253_402_300_799_999,
        ]
        var generator = SystemRandomNumberGenerator()
        let spread = (0..<2_000).map { _ in Int64.random(in: 0...4_102_444_800_000, using: &generator) }
        for ms in fixed + spread {
            #expect(RFC3339.text(milliseconds: ms) == Self.reference(ms), "\(ms)")
        }
        #expect(RFC3339.text(milliseconds: 0) == "1970-01-01T00:00:00.000Z")
        #expect(RFC3339.text(milliseconds: -1) == "1969-12-31T23:59:59.999Z")
        #expect(RFC3339.text(milliseconds: 951_782_400_000) == "2000-02-29T00:00:00.000Z")
    }
}
