import ArgumentParser
import Foundation
import TandemCertificates

/// `tandem certs`: the platform CA and per-service certificates, without openssl.
struct Certs: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "certs",
        abstract: "Create the platform CA and issue service certificates (PEM; keys written with mode 0600).",
        subcommands: [Init.self, Issue.self]
    )

    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a CA: <dir>/ca.pem and <dir>/ca-key.pem."
        )

        @Option(name: .long, help: "Directory for the files (created if missing).")
        var dir = "certs"

        @Option(help: "CA validity in years.")
        var years = 10

        @Flag(help: "Replace an existing CA (every certificate it issued stops being trusted).")
        var force = false

        func run() throws {
            try ensureDirectory(dir)
            let path = dir + "/ca.pem"
            if FileManager.default.fileExists(atPath: path) && !force {
                throw CLIError("\(path) already exists; pass --force to replace the CA")
            }
            guard (1...50).contains(years) else { throw ValidationError("--years must be between 1 and 50") }
            let ca = try CertificateAuthority.create(years: years)
            let files = try ca.issued.write(to: dir, name: "ca")
            print("created CA \(files.certificate) (key \(files.key), mode 0600)")
        }
    }

    struct Issue: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue a certificate for a service, signed by the CA: <dir>/<name>.pem and <dir>/<name>-key.pem.",
            discussion: "The name is also the certificate's first DNS name: clients check it (e.g. 'scheduling')."
        )

        @Argument(help: "Service name, e.g. identity, scheduling, gateway.")
        var name: String

        @Option(help: "Another DNS name for the certificate (repeatable).")
        var dns: [String] = []

        @Option(help: "An IP address for the certificate (repeatable).")
        var ip: [String] = []

        @Option(name: .long, help: "Directory holding ca.pem and ca-key.pem; the new files go there too.")
        var dir = "certs"

        @Option(help: "Validity in days.")
        var days = 825

        func run() throws {
            guard (1...3650).contains(days) else { throw ValidationError("--days must be between 1 and 3650") }
            let ca: CertificateAuthority
            do {
                ca = try CertificateAuthority.load(certificatePath: dir + "/ca.pem", keyPath: dir + "/ca-key.pem")
            } catch {
                throw CLIError("cannot load the CA from \(dir) (run 'tandem certs init --dir \(dir)' first): \(error)")
            }
            let issued = try ca.issue(name: name, dnsNames: dns, ipAddresses: ip, days: days)
            let files = try issued.write(to: dir, name: name)
            let names = ([name] + dns + ip).joined(separator: ", ")
            print("issued \(files.certificate) for \(names) (key \(files.key), mode 0600)")
        }
    }
}

func ensureDirectory(_ path: String) throws {
    do {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    } catch {
        throw CLIError("cannot create directory \(path): \(error.localizedDescription)")
    }
}

/// A failure reported as one line (ArgumentParser prints "Error: …" and exits with 1).
struct CLIError: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) {
        self.description = description
    }
}
