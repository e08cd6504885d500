import ArgumentParser

/// Benchmark programs for Tandem. Each prints its numbers side by side with the peer it is
/// compared against (see BENCHMARKS.md). Build in release mode: `swift build -c release`.
@main
struct TandemBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tandem-bench",
        abstract: "Tandem benchmarks: numbers printed side by side with their peers.",
        subcommands: [WireBenchmark.self, RPCBenchmark.self, IdentityBenchmark.self, MatchingBenchmark.self, RecommendationBenchmark.self, FeedbackBenchmark.self, PKICommand.self]
    )
}
