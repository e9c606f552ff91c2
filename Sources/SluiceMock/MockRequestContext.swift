import Hummingbird
import NIOCore

/// The request context of the mock's routes: the basic one plus the connection, so a fault
/// can close it without answering.
struct MockRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// The channel the request came on: the connection for HTTP/1.1, a stream for HTTP/2.
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }
}
