import Benchmark
import SluiceTransport

/// Per-message codec cost: rendering a campaign body and decoding WhatsApp's reply.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.throughput, .wallClock, .mallocCountTotal, .instructions],
        scalingFactor: .kilo,
        maxDuration: .seconds(2)
    )

    let object = #"{"type":"template","template":{"name":"order_update","language":{"code":"en_US"},"components":[{"type":"body","parameters":[{"type":"text","text":"{{1}}"},{"type":"text","text":"{{2}}"},{"type":"text","text":"{{3}}"}]}]}}"#
    let template = try! MessageTemplate(messageObject: Array(object.utf8))
    let params = ["Ann Smith", "#A-1043 \"express\"", "Friday 14:00"]

    Benchmark("MessageTemplate.render (3 params, reused buffer)") { benchmark in
        var body: [UInt8] = []
        body.reserveCapacity(1024)
        for _ in benchmark.scaledIterations {
            body.removeAll(keepingCapacity: true)
            template.render(to: "4915112345678", params: params, callbackData: "1234567890", into: &body)
            blackHole(body.count)
        }
    }

    let success = Array(#"{"messaging_product":"whatsapp","contacts":[{"input":"4915112345678","wa_id":"4915112345678"}],"messages":[{"id":"wamid.HBgLMTY0NjcwNDM1OTUVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA"}]}"#.utf8)

    Benchmark("ResponseDecoder.decode (success body)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(ResponseDecoder.decode(httpStatus: 200, body: success))
        }
    }
}
