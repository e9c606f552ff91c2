import SluiceCore
import Testing

/// Opt-out and opt-in keywords against what customers write and tap, and the customer window.
@Suite struct ContactKeywordsTests {
    func text(_ body: String) -> [UInt8] { Array(#"{"type":"text","text":{"body":"\#(body)"}}"#.utf8) }

    @Test func aWholeTextEqualToAKeywordOptsOutIgnoringCaseAndSpacing() {
        let standard = ContactKeywords.standardOptOut
        for body in ["STOP", "stop", "  Stop  ", "stop   all", "Unsubscribe", "إيقاف", "الغاء الاشتراك"] {
            #expect(ContactKeywords.action(type: "text", object: text(body), optOut: standard) == .optOut, "\(body)")
        }
        for body in ["please stop", "STOPPED", "don't unsubscribe me", "", "hello"] {
            #expect(ContactKeywords.action(type: "text", object: text(body), optOut: standard) == nil, "\(body)")
        }
        #expect(ContactKeywords.action(type: "text", object: text("start"), optOut: standard) == .optIn)
        #expect(ContactKeywords.action(type: "image", object: text("STOP"), optOut: standard) == nil, "only texts and replies")
        #expect(ContactKeywords.action(type: "text", object: Array("not json".utf8), optOut: standard) == nil)
    }

    @Test func tappedRepliesMatchByPayloadOrTitleAndASendersOwnListReplacesTheStandardOne() {
        let button = Array(#"{"type":"button","button":{"payload":"OPT_OUT","text":"No more offers"}}"#.utf8)
        #expect(ContactKeywords.action(type: "button", object: button, optOut: ["opt_out"]) == .optOut)
        #expect(ContactKeywords.action(type: "button", object: button, optOut: ContactKeywords.standardOptOut) == nil)
        let list = Array(#"{"type":"interactive","interactive":{"type":"list_reply","list_reply":{"id":"row-9","title":"Stop all"}}}"#.utf8)
        #expect(ContactKeywords.action(type: "interactive", object: list, optOut: ContactKeywords.standardOptOut) == .optOut)
        let reply = Array(#"{"type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":"b1","title":"Start"}}}"#.utf8)
        #expect(ContactKeywords.action(type: "interactive", object: reply, optOut: ["NO"]) == .optIn)
        #expect(ContactKeywords.action(type: "text", object: text("STOP"), optOut: ["CANCEL"]) == nil, "the sender's list replaces the standard one")
    }

    @Test func aKeywordListIsCheckedBeforeItIsKept() {
        #expect(ContactKeywords.problem(["STOP", "cancel"]) == nil)
        #expect(ContactKeywords.problem(["  "]) != nil)
        #expect(ContactKeywords.problem(["start"])?.contains("opt-in") == true)
        #expect(ContactKeywords.problem(Array(repeating: "x", count: ContactKeywords.countMax + 1)) != nil)
        #expect(ContactKeywords.problem([String(repeating: "x", count: ContactKeywords.keywordBytesMax + 1)]) != nil)
    }

    @Test func theWindowIsOpenForTwentyFourHoursAfterTheLastIncomingMessage() {
        let at: Int64 = 1_750_000_000_000
        let contact = ContactRecord(phoneNumberID: "1", waID: "966500000001", lastInboundMilliseconds: at)
        #expect(contact.windowIsOpen(atMilliseconds: at))
        #expect(contact.windowIsOpen(atMilliseconds: at + CustomerWindow.milliseconds - 1))
        #expect(!contact.windowIsOpen(atMilliseconds: at + CustomerWindow.milliseconds))
        #expect(!ContactRecord(phoneNumberID: "1", waID: "966500000001").windowIsOpen(atMilliseconds: at))
    }

    @Test func aCursorReadsBackFromItsText() {
        let cursor = SuppressionCursor(high: 0x0123_4567_89ab_cdef, low: 7)
        #expect(cursor.text == "0123456789abcdef0000000000000007")
        #expect(SuppressionCursor(text: cursor.text) == cursor)
        for bad in ["", "0123", "0123456789ABCDEF0000000000000007", "0123456789abcdef000000000000000g", "+123456789abcdef0000000000000007"] {
            #expect(SuppressionCursor(text: bad) == nil, "\(bad)")
        }
    }
}
