import CCurl
import Foundation
import SluiceCore
import Testing

@testable import SluiceTransport
import SluiceTestSupport

@Suite(.serialized) struct CurlTransportTests {
    private func http1(inFlightMax: Int = 64, timeoutMilliseconds: Int = 10_000) -> TransportConfiguration {
        var configuration = TransportConfiguration()
        configuration.httpVersion = .http1
        configuration.connectionsPerHostMax = 8
        configuration.inFlightMax = inFlightMax
        configuration.requestTimeoutMilliseconds = timeoutMilliseconds
        return configuration
    }

    private func request(_ tag: UInt64, _ url: String, token: String = "good-1") -> OutboundRequest {
        let body = #"{"messaging_product":"whatsapp","to":"\#(tag)","type":"text","text":{"body":"hi"}}"#
        return OutboundRequest(tag: tag, url: url, bearerToken: token, body: Array(body.utf8))
    }

    @Test func twoThousandRequestsMapTagsToWamidsAndReuseHandles() async throws {
        try await LocalServer.with { port in
            let collector = Collector()
            let configuration = http1(inFlightMax: 64)
            let transport = try CurlTransport(configuration: configuration, onCompletions: collector.callback)
            let url = "http://127.0.0.1:\(port)/v21.0/123/messages"
            for start in stride(from: 0, to: 2_000, by: 100) {
                transport.send((start..<start + 100).map { request(UInt64($0), url, token: $0 % 2 == 0 ? "good-a" : "good-b") })
            }
            let completions = try await collector.wait(for: 2_000)
            #expect(completions.count == 2_000)
            #expect(Set(completions.map(\.tag)) == Set((0..<2_000).map(UInt64.init)))
            for completion in completions {
                #expect(completion.result == .accepted(wamid: "wamid.T\(completion.tag)"))
                #expect(completion.elapsedNanoseconds > 0)
            }
            let statistics = transport.statistics
            // One request per HTTP/1.1 connection is handed to libcurl; the rest wait in
            // the transport's own queue.
            #expect(statistics.handlesCreated <= configuration.connectionsPerHostMax)
            #expect(statistics.responsesHTTP1 == 2_000)
            #expect(statistics.completed == 2_000)
            #expect(collector.batches < 2_000)
            #expect(transport.inFlightCount == 0)
            transport.shutdown(drainTimeoutMilliseconds: 1_000)
        }
    }

    @Test func libcurlIsGivenWhatTheConnectionsCarry() {
        var configuration = http1(inFlightMax: 64)
        #expect(configuration.concurrentRequestsMax == 8)
        configuration.httpVersion = .http2
        configuration.connectionsPerHostMax = 2
        configuration.inFlightMax = 4096
        #expect(configuration.concurrentRequestsMax == 2 * TransportConfiguration.streamsPerConnectionMax)
        configuration.inFlightMax = 150
        #expect(configuration.concurrentRequestsMax == 150)
    }

    @Test func errorBodiesAreRejectedWithTheirCode() async throws {
        try await LocalServer.with { port in
            let collector = Collector()
            let transport = try CurlTransport(configuration: http1(), onCompletions: collector.callback)
            transport.send([
                request(1, "http://127.0.0.1:\(port)/error"),
                request(2, "http://127.0.0.1:\(port)/plain500"),
                request(3, "http://127.0.0.1:\(port)/v21.0/1/messages", token: "bad"),
            ])
            let results = Dictionary(uniqueKeysWithValues: try await collector.wait(for: 3).map { ($0.tag, $0.result) })
            #expect(results[1] == .rejected(httpStatus: 400, code: 130429, message: "(#130429) Rate limit hit"))
            #expect(results[2] == .httpError(httpStatus: 500))
            #expect(results[3] == .rejected(httpStatus: 401, code: 190, message: "Invalid OAuth access token"))
            transport.shutdown(drainTimeoutMilliseconds: 1_000)
        }
    }

    @Test func timeoutAfterSendingIsInDoubt() async throws {
        try await LocalServer.with { port in
            let collector = Collector()
            let transport = try CurlTransport(configuration: http1(timeoutMilliseconds: 300), onCompletions: collector.callback)
            transport.send([request(1, "http://127.0.0.1:\(port)/slow/1500")])
            let completions = try await collector.wait(for: 1)
            guard case .inDoubt(let reason) = completions.first?.result else {
                Issue.record("expected inDoubt, got \(String(describing: completions.first?.result))")
                return
            }
            #expect(reason.hasPrefix("curl 28:"))
            #expect(transport.statistics.inDoubt == 1)
            transport.shutdown(drainTimeoutMilliseconds: 0)
        }
    }

    @Test func connectionRefusedIsNotSentEvenOnAReusedHandle() async throws {
        try await LocalServer.with { port in
            let collector = Collector()
            // One handle: the refused request reuses the handle that just sent successfully.
            let transport = try CurlTransport(configuration: http1(inFlightMax: 1), onCompletions: collector.callback)
            transport.send([request(1, "http://127.0.0.1:\(port)/v21.0/1/messages")])
            _ = try await collector.wait(for: 1)
            transport.send([request(2, "http://127.0.0.1:\(LocalServer.closedPort())/v21.0/1/messages")])
            let completions = try await collector.wait(for: 2)
            #expect(completions.first?.result == .accepted(wamid: "wamid.T1"))
            guard case .notSent(let reason) = completions.last?.result else {
                Issue.record("expected notSent, got \(String(describing: completions.last?.result))")
                return
            }
            #expect(reason.hasPrefix("curl 7:"))
            #expect(transport.statistics.handlesCreated == 1)
            transport.shutdown(drainTimeoutMilliseconds: 0)
        }
    }

    @Test func shutdownDrainsInFlightThenRefuses() async throws {
        try await LocalServer.with { port in
            let collector = Collector()
            var configuration = http1(inFlightMax: 16)
            configuration.connectionsPerHostMax = 16  // all 16 on the wire, none waiting in the queue
            let transport = try CurlTransport(configuration: configuration, onCompletions: collector.callback)
            transport.send((0..<16).map { request($0, "http://127.0.0.1:\(port)/slow/200") })
            try await Task.sleep(for: .milliseconds(50))  // let them reach the server
            transport.shutdown(drainTimeoutMilliseconds: 5_000)
            let completions = collector.completions
            #expect(completions.count == 16)
            #expect(completions.allSatisfy { $0.result == .accepted(wamid: "wamid.slow") })
            transport.shutdown(drainTimeoutMilliseconds: 5_000)  // idempotent
            transport.send([request(99, "http://127.0.0.1:\(port)/v21.0/1/messages")])
            #expect(collector.completions.last?.tag == 99)
            #expect(collector.completions.last?.result == .notSent(reason: "transport is shut down"))
        }
    }

    @Test func drainDeadlineAbortsAsInDoubtAndQueuedAsNotSent() async throws {
        try await LocalServer.with { port in
            let collector = Collector()
            let transport = try CurlTransport(configuration: http1(inFlightMax: 2), onCompletions: collector.callback)
            transport.send((0..<5).map { request($0, "http://127.0.0.1:\(port)/slow/2000") })
            try await Task.sleep(for: .milliseconds(100))
            #expect(transport.inFlightCount == 5)
            transport.shutdown(drainTimeoutMilliseconds: 100)
            let results = collector.completions
            #expect(results.count == 5)
            #expect(results.filter { if case .inDoubt = $0.result { true } else { false } }.count == 2)
            #expect(results.filter { if case .notSent = $0.result { true } else { false } }.count == 3)
            #expect(transport.inFlightCount == 0)
        }
    }

    @Test func queueBeyondItsLimitIsRefusedAsNotSent() async throws {
        try await LocalServer.with { port in
            let collector = Collector()
            var configuration = http1(inFlightMax: 1)
            configuration.queuedMax = 1
            let transport = try CurlTransport(configuration: configuration, onCompletions: collector.callback)
            transport.send((0..<4).map { request($0, "http://127.0.0.1:\(port)/slow/100") })
            let results = Dictionary(uniqueKeysWithValues: try await collector.wait(for: 4).map { ($0.tag, $0.result) })
            #expect(results[0] == .accepted(wamid: "wamid.slow"))
            #expect(results[1] == .accepted(wamid: "wamid.slow"))
            #expect(results[2] == .notSent(reason: "transport queue is full (2 requests)"))
            #expect(results[3] == .notSent(reason: "transport queue is full (2 requests)"))
            transport.shutdown(drainTimeoutMilliseconds: 0)
        }
    }

    @Test func classifierKeepsPreSendFailuresApartFromInDoubt() {
        for code in [CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_CONNECT, CURLE_SSL_CONNECT_ERROR] {
            #expect(TransferClassifier.failure(code: code, requestBytes: 0, detail: "x") == .notSent(reason: "curl \(code.rawValue): x"))
            // Bytes written before: libcurl retried on a fresh connection after a reused one
            // died, and the first request may have been read.
            #expect(TransferClassifier.failure(code: code, requestBytes: 100, detail: "x") == .inDoubt(reason: "curl \(code.rawValue): x"))
        }
        for code in [CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE] {
            // Certificate verification precedes any request byte: nothing was sent.
            #expect(TransferClassifier.failure(code: code, requestBytes: 0, detail: "x") == .untrusted(reason: "curl \(code.rawValue): x"))
        }
        for code in [CURLE_OPERATION_TIMEDOUT, CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_GOT_NOTHING, CURLE_HTTP2_STREAM, CURLE_PARTIAL_FILE] {
            #expect(TransferClassifier.failure(code: code, requestBytes: 100, detail: "x") == .inDoubt(reason: "curl \(code.rawValue): x"))
            // Nothing written: WhatsApp cannot have seen it.
            #expect(TransferClassifier.failure(code: code, requestBytes: 0, detail: "x") == .notSent(reason: "curl \(code.rawValue): x"))
        }
    }
}

/// The departure reports pacing counts from.
@Suite(.serialized) struct TransportDepartureTests {
    /// Reports in the order the transport made them.
    final class Reports: Sendable {
        private let state = Locked<[(departed: [TransportDeparture], completions: [TransportCompletion], at: Int64)]>([])

        var callback: @Sendable ([TransportDeparture], [TransportCompletion]) -> Void {
            { departed, completions in
                var spec = timespec()
                clock_gettime(CLOCK_MONOTONIC, &spec)
                let at = Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
                self.state.withLock { $0.append((departed, completions, at)) }
            }
        }

        var all: [(departed: [TransportDeparture], completions: [TransportCompletion], at: Int64)] { state.withLock { $0 } }

        func waitForCompletions(_ count: Int, sourceLocation: SourceLocation = #_sourceLocation) async throws {
            try await eventually("\(count) completions", within: 30, every: 5, sourceLocation: sourceLocation) {
                all.reduce(0, { $0 + $1.completions.count }) >= count
            }
        }
    }

    private static func monotonicNow() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
    }

    @Test func everySentRequestDepartsOnceBeforeItCompletesStampedInBetween() async throws {
        try await LocalServer.with { port in
            let reports = Reports()
            var configuration = TransportConfiguration()
            configuration.httpVersion = .http1
            configuration.connectionsPerHostMax = 4
            let transport = try CurlTransport(configuration: configuration, onReport: reports.callback)
            let url = "http://127.0.0.1:\(port)/v21.0/123/messages"
            let sentAt = Self.monotonicNow()
            transport.send((0..<200).map { tag in
                OutboundRequest(tag: UInt64(tag), url: url, bearerToken: "good-1", body: Array(#"{"to":"1"}"#.utf8))
            })
            try await reports.waitForCompletions(200)
            transport.shutdown(drainTimeoutMilliseconds: 1_000)

            var departedAt: [UInt64: Int64] = [:]
            var completed = 0
            for report in reports.all {
                for departure in report.departed {
                    #expect(departedAt[departure.tag] == nil, "request \(departure.tag) departed twice")
                    #expect(departure.monotonicNanoseconds >= sentAt && departure.monotonicNanoseconds <= report.at)
                    departedAt[departure.tag] = departure.monotonicNanoseconds
                }
                for completion in report.completions {
                    // Reported in this report or an earlier one, never after its completion.
                    #expect(departedAt[completion.tag] != nil, "request \(completion.tag) completed without a departure")
                    completed += 1
                }
            }
            #expect(completed == 200)
            #expect(departedAt.count == 200)
        }
    }

    @Test func aRequestThatNeverConnectsCompletesWithoutDeparting() async throws {
        let reports = Reports()
        var configuration = TransportConfiguration()
        configuration.httpVersion = .http1
        configuration.connectTimeoutMilliseconds = 2_000
        let transport = try CurlTransport(configuration: configuration, onReport: reports.callback)
        // Port 9 on loopback: nothing listens, the connection is refused.
        transport.send([OutboundRequest(tag: 7, url: "http://127.0.0.1:9/v21.0/123/messages", bearerToken: "t", body: Array("{}".utf8))])
        try await reports.waitForCompletions(1)
        transport.shutdown(drainTimeoutMilliseconds: 1_000)
        let all = reports.all
        #expect(all.flatMap(\.completions).map(\.tag) == [7])
        #expect(all.flatMap(\.departed).isEmpty)
        guard case .notSent = all.flatMap(\.completions).first?.result else {
            Issue.record("a refused connection is not sent: \(String(describing: all.first?.completions.first?.result))")
            return
        }
    }
}
