import TandemProtocols
import TandemWire
import Testing

@Suite("health messages")
struct HealthMessageTests {
    @Test("an empty map, an empty name and a named service, with integer or text keys")
    func checkRequestService() throws {
        let decoder = CBORDecoder()
        // {}, {1: ""}, {1: "scheduling"}, {"service": "scheduling"}
        #expect(try decoder.decode(HealthCheckRequest.self, from: [0xa0]).service == "")
        #expect(try decoder.decode(HealthCheckRequest.self, from: [0xa1, 0x01, 0x60]).service == "")
        let named: [UInt8] = [0xa1, 0x01, 0x6a] + Array("scheduling".utf8)
        #expect(try decoder.decode(HealthCheckRequest.self, from: named).service == "scheduling")
        let textKey: [UInt8] = [0xa1, 0x67] + Array("service".utf8) + [0x6a] + Array("scheduling".utf8)
        #expect(try decoder.decode(HealthCheckRequest.self, from: textKey).service == "scheduling")
        // The whole server's check is sent as an empty map; a named one as before (the golden vector).
        #expect(try CBOREncoder().encodeBytes(HealthCheckRequest()) == [0xa0])
        #expect(try CBOREncoder().encodeBytes(HealthCheckRequest(service: "scheduling")) == named)
        // A service name of the wrong type is still refused.
        #expect(throws: (any Error).self) { try decoder.decode(HealthCheckRequest.self, from: [0xa1, 0x01, 0x01]) }
    }
}
