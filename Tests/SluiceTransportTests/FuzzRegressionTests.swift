import Foundation
import SluiceTransport
import Testing

/// Inputs the fuzz targets in `Fuzz/` found failing (see tuning/RELIABILITY.md, "Fuzzing"),
/// kept as tests after the fix.
@Suite struct FuzzRegressionTests {
    /// FuzzMessageTemplate: a placeholder in a key let a value rename the key to an envelope
    /// key — `"recipient_type{{100}}"` rendered as `recipient_type` and overrode Sluice's;
    /// `biz_opaque_callback_data{{1}}` would have pointed status webhooks at other messages.
    @Test func aPlaceholderInAKeyIsRefused() {
        let objects = [
            #"{"type":"text","recipient_type{{100}}":"group","text":{"body":"{{1}}"}}"#,
            #"{"type":"text","text":{"body":"x"},"biz_opaque_callback_data{{1}}":"7"}"#,
            #"{"type":"interactive","interactive":{"{{1}}":"{{2}}"}}"#,
        ]
        for object in objects {
            #expect(throws: TemplateError.self, "\(object)") { try MessageTemplate(messageObject: Array(object.utf8)) }
        }
        // In values, escaped quotes and colons around them included, placeholders stay.
        let value = try? MessageTemplate(messageObject: Array(#"{"type":"text","text":{"body":"a\":{{1}}\":"}}"#.utf8))
        #expect(value?.placeholderCount == 1)
        var body: [UInt8] = []
        value?.render(to: "966500000001", params: ["x"], callbackData: "9", into: &body)
        let rendered = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
        #expect((rendered?["text"] as? [String: Any])?["body"] as? String == #"a":x":"#)
        #expect(rendered?["biz_opaque_callback_data"] as? String == "9")
    }
}
