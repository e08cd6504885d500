import ArgumentParser

/// The `grpc-peer` command: grpc-swift-2 as a performance peer for our RPC runtime.
///
/// `server` hosts a unary echo method over HTTP/2 + mutual TLS; `client` drives it with a
/// closed loop over one connection and prints a JSON summary of throughput and latency.
@main
struct GRPCPeer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grpc-peer",
        abstract: "grpc-swift-2 echo server and closed-loop benchmark client (mutual TLS).",
        subcommands: [ServerCommand.self, ClientCommand.self]
    )
}
