/// A message a customer sent to one of the numbers, from a WhatsApp webhook
/// (`entry[].changes[].value.messages[]` with its `contacts[]` entry).
public struct InboundMessage: Sendable, Equatable {
    /// WhatsApp's id of the message: deduplicates redeliveries (Meta delivers at least once).
    public var wamid: String
    /// `metadata.phone_number_id`: the number it was sent to.
    public var senderPhoneNumberID: String
    /// The customer's `wa_id` (`from`); WhatsApp may leave it out.
    public var from: String?
    /// The customer's business-scoped user id, when given.
    public var fromUserID: String?
    /// `contacts[].profile.name`, when given.
    public var contactName: String?
    /// `timestamp` as WhatsApp gave it (Unix seconds, a string).
    public var timestamp: String
    /// `type` (text, image, …, unsupported).
    public var type: String
    /// The Cloud API message object, JSON as received.
    public var object: [UInt8]
    /// When Sluice journaled it (wall-clock ms).
    public var receivedMilliseconds: Int64
    /// The media of an image, video, audio, document or sticker message.
    public var media: MediaReference?

    public init(
        wamid: String, senderPhoneNumberID: String, from: String?, fromUserID: String? = nil, contactName: String? = nil,
        timestamp: String, type: String, object: [UInt8], receivedMilliseconds: Int64, media: MediaReference? = nil
    ) {
        self.wamid = wamid
        self.senderPhoneNumberID = senderPhoneNumberID
        self.from = from
        self.fromUserID = fromUserID
        self.contactName = contactName
        self.timestamp = timestamp
        self.type = type
        self.object = object
        self.receivedMilliseconds = receivedMilliseconds
        self.media = media
    }

    /// The key its event waits under in a subscriber's outbox: one per contact of a
    /// number, so that a contact's messages are delivered in order and others' are not
    /// held behind them. The high bit keeps it apart from message ids; FNV-1a, so that it
    /// is the same after a restart.
    public var orderKey: MessageID {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ s: String) {
            for byte in s.utf8 {
                hash ^= UInt64(byte)
                hash &*= 0x0000_0100_0000_01b3
            }
            hash ^= 0xff
            hash &*= 0x0000_0100_0000_01b3
        }
        mix(senderPhoneNumberID)
        // Without a wa_id or user id the contact is unknown: the message stands alone.
        mix(from ?? fromUserID.map { "u:" + $0 } ?? "w:" + wamid)
        return MessageID(1 << 63 | hash)
    }
}
