import GRPCCore

/// The single method both sides agree on: unary `echo.Echo/Get`, raw bytes in and out.
enum Echo {
    static let get = MethodDescriptor(fullyQualifiedService: "echo.Echo", method: "Get", type: .unary)
}

/// Serializes a `[UInt8]` message as-is (no protobuf, no copying beyond what the transport needs).
struct RawBytesSerializer: MessageSerializer {
    func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes {
        Bytes(message)
    }
}

/// Deserializes a message into a `[UInt8]` holding exactly the received bytes.
struct RawBytesDeserializer: MessageDeserializer {
    func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> [UInt8] {
        serializedMessageBytes.withUnsafeBytes { Array($0) }
    }
}

/// The echo service: registers `echo.Echo/Get`, which returns the request bytes unchanged.
///
/// This is what generated code would do for a unary method: adapt the streaming router
/// signature to a single request and a single response.
struct EchoService: RegistrableRPCService {
    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        router.registerHandler(
            forMethod: Echo.get,
            deserializer: RawBytesDeserializer(),
            serializer: RawBytesSerializer()
        ) { request, context in
            let single = try await ServerRequest(stream: request)
            return StreamingServerResponse(single: ServerResponse(message: single.message))
        }
    }
}
