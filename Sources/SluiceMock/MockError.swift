/// Errors thrown by ``MockEndpoint`` when it cannot start.
public enum MockError: Error, Sendable, Equatable {
    /// `start()` was called while the endpoint was already starting or running.
    case alreadyRunning
    /// The server stopped before it reported a listening socket.
    case serverDidNotStart
    /// The record file could not be opened; `errno` is the system error.
    case recordFileUnavailable(path: String, errno: Int32)
    /// A certificate file could not be written; `errno` is the system error.
    case certificateFileUnavailable(path: String, errno: Int32)
    /// A configuration value is out of range.
    case invalidConfiguration(String)
}
