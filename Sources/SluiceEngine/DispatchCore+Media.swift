import SluiceCore
import SluiceTransport

/// Campaigns that send files of the media volume: each file goes by the Meta media id its
/// upload for the campaign's number gave (`POST /{phone-number-id}/media`). A campaign
/// whose files lack a usable id is `preparing` (held like a paused one) until the uploader
/// answers; a failed upload pauses it with the reason. Ids are uploaded again before Meta
/// forgets them (`mediaUploadRefreshMilliseconds`).
extension DispatchCore {
    struct MediaNeed: Hashable {
        var sender: SenderID
        var media: String
    }

    /// Fills a new entry's uploads from the journal and compiles its message when each
    /// file has an id; asks for the uploads it lacks.
    mutating func prepareMedia(_ id: CampaignID, _ entry: inout CampaignBook.Entry) {
        for media in entry.media where entry.uploads[media] == nil {
            do {
                if let upload = try lookups.mediaUpload(media: media, sender: entry.sender), isUsable(upload) {
                    entry.uploads[media] = upload
                }
            } catch {
                logger.error("reading the upload of media \(media) failed: \(error)")
            }
        }
        compileWithUploads(&entry)
        if entry.mediaMissing, entry.status == .open { entry.status = .preparing }
        requestUploads(entry, refreshing: false)
    }

    /// The uploader's answer: campaigns of the number that send the file compile again,
    /// and those that waited for it open.
    mutating func mediaUploaded(_ upload: MediaUpload, into actions: inout [Action]) {
        mediaRequested.remove(MediaNeed(sender: upload.sender, media: upload.media))
        for (id, var entry) in campaigns.entries where entry.sender == upload.sender && entry.media.contains(upload.media) {
            entry.uploads[upload.media] = upload
            compileWithUploads(&entry)
            campaigns[id] = entry
            if entry.status == .preparing, !entry.mediaMissing {
                setStatus(id, CampaignBook.status(options: entry.options, paused: false, wallMilliseconds: wall), into: &actions)
            }
        }
    }

    /// The upload failed for good: campaigns that cannot send without it are paused with
    /// the reason (their owner resumes them to try again); those still holding a usable
    /// id go on and the next check tries again.
    mutating func mediaUploadFailed(sender: SenderID, media: String, reason: String, into actions: inout [Action]) {
        mediaRequested.remove(MediaNeed(sender: sender, media: media))
        let phone = senders[sender]?.record.phoneNumberID ?? sender.description
        logger.error("uploading media \(media) for \(phone) failed: \(reason)")
        for (id, entry) in campaigns.entries where entry.sender == sender && entry.media.contains(media) && entry.uploads[media] == nil {
            if case .ended = entry.status { continue }
            actions.append(.pauseCampaign(id, reason: "uploading media \(media) to WhatsApp for \(phone) failed: \(reason)"))
        }
    }

    /// Every `mediaUploadCheckIntervalMilliseconds`: ids near their end are uploaded again,
    /// and a campaign whose id is about to end waits for the new one.
    mutating func checkMediaUploads(into actions: inout [Action]) {
        for (id, var entry) in campaigns.entries where !entry.media.isEmpty {
            if case .ended = entry.status { continue }
            var lost = false
            for media in entry.media {
                guard let upload = entry.uploads[media], !isUsable(upload) else { continue }
                entry.uploads[media] = nil
                lost = true
            }
            if lost {
                entry.template = nil
                campaigns[id] = entry
                if entry.status == .open { setStatus(id, .preparing, into: &actions) }
            }
            requestUploads(entry, refreshing: true)
        }
    }

    /// Emits the uploads the entry lacks (and, `refreshing`, those near their end) that
    /// were not asked for already; flushed as actions by `flushMediaRequests`.
    mutating func requestUploads(_ entry: CampaignBook.Entry, refreshing: Bool) {
        guard senders[entry.sender] != nil else { return }
        if case .ended = entry.status { return }
        for media in entry.media {
            let due: Bool
            if let upload = entry.uploads[media] {
                due = refreshing && upload.expiresMilliseconds - configuration.mediaUploadRefreshMilliseconds <= wall
            } else {
                due = true
            }
            let need = MediaNeed(sender: entry.sender, media: media)
            if due, mediaRequested.insert(need).inserted { mediaAsked.append(need) }
        }
    }

    /// Whether a number's id may still be sent: not within the margin of its end.
    func isUsable(_ upload: MediaUpload) -> Bool {
        upload.expiresMilliseconds - configuration.mediaUploadMarginMilliseconds > wall
    }

    /// Compiles the message with the ids once every file has one; a message the ids
    /// cannot be put in is broken (its messages fail).
    private func compileWithUploads(_ entry: inout CampaignBook.Entry) {
        guard let message = entry.message, !entry.mediaMissing else { return }
        do {
            entry.template = try MessageTemplate(messageObject: message, mediaIDs: entry.uploads.mapValues(\.metaID))
            entry.broken = nil
        } catch {
            entry.template = nil
            entry.broken = "campaign message is invalid: \(error)"
        }
    }
}
