import ArgumentParser

/// The `tandem` command: certificates now; dev cluster, demo and generic calls as the services land.
@main
struct Tandem: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tandem",
        abstract: "Tandem, the virtual mentoring platform: certificates and tools.",
        version: "tandem 0.1.0 (wire protocol TANDEM/1)",
        subcommands: [Certs.self]
    )
}
