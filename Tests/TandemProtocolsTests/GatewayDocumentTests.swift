import Foundation
import Testing
import TandemProtocols

/// Gateway.md names every method the gateway routes; the list must stay the code's.
@Suite("Gateway document")
struct GatewayDocumentTests {
    @Test("the routed methods in Gateway.md are exactly Gateway.routedMethods")
    func routes() throws {
        let text = try String(contentsOf: protocolsDirectory.appendingPathComponent("Gateway.md"), encoding: .utf8)
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("Routed: ") })
        let documented = line.dropFirst("Routed: ".count).split(separator: ",").map {
            $0.trimmingCharacters(in: CharacterSet(charactersIn: " `."))
        }
        #expect(Set(documented) == Set(Gateway.routedMethods.map(\.fullName)))
        #expect(documented.count == Gateway.routedMethods.count)
    }

    @Test("no service's internal method is routed")
    func internalMethodsAreNotRouted() {
        let routed = Set(Gateway.routedMethods.map(\.fullName))
        for methods in [Identity.internalMethods, Matching.internalMethods, Scheduling.internalMethods] {
            #expect(routed.isDisjoint(with: methods.keys), "\(methods.keys.sorted())")
        }
        #expect(!routed.contains(Identity.listErasures.fullName))
    }
}
