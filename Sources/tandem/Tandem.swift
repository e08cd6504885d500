import ArgumentParser

/// The `tandem` command: certificates, the dev cluster, the demo, generic calls and sign-in.
@main
struct Tandem: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tandem",
        abstract: "Tandem, the virtual mentoring platform: certificates, dev cluster, demo and calls.",
        version: "tandem 0.1.0 (wire protocol TANDEM/1)",
        subcommands: [Certs.self, Dev.self, Demo.self, Call.self, SignIn.self]
    )
}
