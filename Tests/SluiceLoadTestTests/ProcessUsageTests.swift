import Testing
@testable import SluiceLoadTest

@Suite struct ProcessUsageTests {
    /// Three connections between 127.0.0.1:40001–40003 and an endpoint on port 9443 (0x24E3):
    /// both sides of each, one of them closing; and a listener.
    static let table = """
          sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
           0: 0100007F:24E3 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
           1: 0100007F:9C41 0100007F:24E3 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 20 4 30 10 -1
           2: 0100007F:24E3 0100007F:9C41 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0000000000000000 20 4 30 10 -1
           3: 0100007F:9C42 0100007F:24E3 01 00000000:00000000 00:00000000 00000000     0        0 4 1 0000000000000000 20 4 30 10 -1
           4: 0100007F:9C43 0100007F:24E3 08 00000000:00000000 00:00000000 00000000     0        0 5 1 0000000000000000 20 4 30 10 -1
        """

    @Test func countsTheClientSideOfEstablishedConnectionsToThePort() {
        #expect(ProcessUsage.connections(table: Self.table, toPort: 9443) == 2)
        #expect(ProcessUsage.connections(table: Self.table, toPort: 40001) == 1)
        #expect(ProcessUsage.connections(table: Self.table, toPort: 80) == 0)
    }
}
