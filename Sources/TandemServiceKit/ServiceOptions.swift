public import ArgumentParser
public import Foundation
public import Logging
import NIOCore
public import TandemRPC
import TandemWire

/// The options every Tandem service takes. Each has an environment-variable equivalent
/// (`TANDEM_<NAME>`, e.g. `TANDEM_PORT`); a flag on the command line wins over the variable.
public struct ServiceOptions: ParsableArguments, Sendable {
    @Option(help: "Address to listen on. [env: TANDEM_HOST] (default: 127.0.0.1)")
    public var host: String?

    @Option(help: "Port to listen on; 0 picks a free one. [env: TANDEM_PORT] (default: the service's port)")
    public var port: Int?

    @Option(name: .customLong("data-dir"), help: "Directory for the service's database. [env: TANDEM_DATA_DIR] (default: ./data/<service>)")
    public var dataDirectory: String?

    @Option(help: "This service's certificate chain (PEM). [env: TANDEM_CERTIFICATE] (default: certs/<service>.pem)")
    public var certificate: String?

    @Option(help: "This service's private key (PEM). [env: TANDEM_KEY] (default: certs/<service>-key.pem)")
    public var key: String?

    @Option(help: "The platform CA (PEM): clients must present a certificate it signed (mutual TLS). [env: TANDEM_CA] (default: certs/ca.pem)")
    public var ca: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical. [env: TANDEM_LOG_LEVEL] (default: info)")
    public var logLevel: String?

    @Option(name: .customLong("log-format"), help: "text or json (one JSON object per line). [env: TANDEM_LOG_FORMAT] (default: text)")
    public var logFormat: String?

    @Option(name: .customLong("event-loop-threads"), help: "Network threads; 0 means one per core. [env: TANDEM_EVENT_LOOP_THREADS] (default: 0)")
    public var eventLoopThreads: Int?

    @Option(name: .customLong("drain-seconds"), help: "On SIGTERM, how long calls in flight may take to finish. [env: TANDEM_DRAIN_SECONDS] (default: 20)")
    public var drainSeconds: Int?

    @Option(name: .customLong("compression-threshold"), help: "Answers of at least this many bytes are compressed (deflate) for clients that accept it; 0: never (on fast networks compression costs more CPU than it saves time). [env: TANDEM_COMPRESSION_THRESHOLD] (default: 1024)")
    public var compressionThreshold: Int?

    @Option(help: "A configuration file: one 'name = value' per line, names as the long options (port, data-dir, admin-port…); flags and TANDEM_* variables win over it. [env: TANDEM_CONFIG]")
    public var config: String?

    @Option(name: .customLong("admin-host"), help: "Address of the admin HTTP port (/metrics, /healthz, /readyz). [env: TANDEM_ADMIN_HOST] (default: the --host)")
    public var adminHost: String?

    @Option(name: .customLong("admin-port"), help: "The admin HTTP port; 0 picks a free one. [env: TANDEM_ADMIN_PORT] (default: the RPC port + 1000)")
    public var adminPort: Int?

    @Option(name: .customLong("clock-file"), help: "Development only: shift the service's clock by the seconds this file holds (a test clock; missing file: 0; re-read every 0.1 s), as `tandem dev up` does. [env: TANDEM_CLOCK_FILE] (default: real time)")
    public var clockFile: String?

    @Flag(name: .customLong("exit-with-parent"), help: "Drain and exit, as on SIGTERM, when the process that started this one has exited (checked every second), as `tandem dev up` does. [env: TANDEM_EXIT_WITH_PARENT=1]")
    public var exitWithParent = false

    public init() {}

    /// The options every service takes, as they are named in a configuration file.
    public static let commonNames: Set<String> = [
        "host", "port", "data-dir", "certificate", "key", "ca", "log-level", "log-format", "event-loop-threads", "drain-seconds", "compression-threshold",
        "admin-host", "admin-port", "clock-file", "exit-with-parent",
    ]

    /// The process environment with the configuration file's settings added as `TANDEM_*`
    /// variables where the environment does not set them (so flags win over variables, and
    /// variables over the file). `extraNames` are the service's own options.
    public func environment(
        extraNames: Set<String> = [], base: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> [String: String] {
        guard let path = config ?? base["TANDEM_CONFIG"] else { return base }
        let file = try ConfigurationFile.load(path, allowed: Self.commonNames.union(extraNames))
        return base.merging(file.environment) { fromEnvironment, _ in fromEnvironment }
    }

    /// The settings these options resolve to (flags, then environment, then defaults),
    /// checked: a bad value or a missing file is one clear error before anything starts.
    public func resolve(service: String, defaultPort: Int, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ServiceSettings {
        func value(_ flag: String?, _ name: String) -> String? { flag ?? environment["TANDEM_" + name] }
        func integer(_ flag: Int?, _ name: String, default fallback: Int, range: ClosedRange<Int>, option: String) throws -> Int {
            if let flag { return try checked(flag, range, option) }
            guard let text = environment["TANDEM_" + name] else { return fallback }
            guard let number = Int(text) else { throw ServiceConfigurationError("TANDEM_\(name)='\(text)' is not a whole number") }
            return try checked(number, range, "TANDEM_" + name)
        }
        func checked(_ number: Int, _ range: ClosedRange<Int>, _ name: String) throws -> Int {
            guard range.contains(number) else { throw ServiceConfigurationError("\(name) must be between \(range.lowerBound) and \(range.upperBound), got \(number)") }
            return number
        }
        let host = value(host, "HOST") ?? "127.0.0.1"
        guard !host.isEmpty, (try? SocketAddress(ipAddress: host, port: 0)) != nil || host == "localhost" else {
            throw ServiceConfigurationError("--host '\(host)' is not an IP address (use 0.0.0.0 to listen on every interface)")
        }
        let port = try integer(port, "PORT", default: defaultPort, range: 0...65535, option: "--port")
        let adminHost = value(adminHost, "ADMIN_HOST") ?? host
        guard (try? SocketAddress(ipAddress: adminHost, port: 0)) != nil || adminHost == "localhost" else {
            throw ServiceConfigurationError("--admin-host '\(adminHost)' is not an IP address")
        }
        let adminPort = try integer(adminPort, "ADMIN_PORT", default: port == 0 || port + 1000 > 65535 ? 0 : port + 1000, range: 0...65535, option: "--admin-port")
        if adminPort != 0 && adminPort == port && adminHost == host {
            throw ServiceConfigurationError("--admin-port \(adminPort) is the RPC port; give the admin endpoints a port of their own")
        }
        let levelText = value(logLevel, "LOG_LEVEL") ?? "info"
        guard let level = Logger.Level(rawValue: levelText.lowercased()) else {
            throw ServiceConfigurationError("--log-level '\(levelText)' is not one of trace, debug, info, notice, warning, error, critical")
        }
        let formatText = value(logFormat, "LOG_FORMAT") ?? "text"
        guard let format = LogFormat(rawValue: formatText.lowercased()) else {
            throw ServiceConfigurationError("--log-format '\(formatText)' is not text or json")
        }
        let certificate = value(certificate, "CERTIFICATE") ?? "certs/\(service).pem"
        let key = value(key, "KEY") ?? "certs/\(service)-key.pem"
        let ca = value(ca, "CA") ?? "certs/ca.pem"
        for (path, what) in [(certificate, "--certificate"), (key, "--key"), (ca, "--ca")] where !FileManager.default.isReadableFile(atPath: path) {
            throw ServiceConfigurationError("\(what) \(path): no such readable file (create certificates with `tandem certs init` and `tandem certs issue \(service)`)")
        }
        let tls: ServerTLSConfiguration
        do {
            tls = try ServerTLSConfiguration.mutual(certificatePath: certificate, keyPath: key, caPath: ca)
        } catch {
            throw ServiceConfigurationError("cannot load the TLS files: \(error)")
        }
        var clock: DevClock?
        if let path = value(clockFile, "CLOCK_FILE") {
            do {
                clock = try DevClock(path: path)
            } catch {
                throw ServiceConfigurationError("--clock-file \(error.description)")
            }
        }
        var exitWithParent = self.exitWithParent
        if !exitWithParent, let text = environment["TANDEM_EXIT_WITH_PARENT"] {
            switch text.lowercased() {
            case "1", "true", "yes": exitWithParent = true
            case "", "0", "false", "no": break
            default: throw ServiceConfigurationError("TANDEM_EXIT_WITH_PARENT='\(text)' must be 1 or 0")
            }
        }
        return ServiceSettings(
            service: service, host: host, port: port, adminHost: adminHost, adminPort: adminPort, dataDirectory: value(dataDirectory, "DATA_DIR") ?? "data/\(service)", tls: tls,
            logLevel: level, logFormat: format,
            eventLoopThreads: try integer(eventLoopThreads, "EVENT_LOOP_THREADS", default: 0, range: 0...256, option: "--event-loop-threads"),
            drainSeconds: try integer(drainSeconds, "DRAIN_SECONDS", default: 20, range: 0...3600, option: "--drain-seconds"),
            compressionThreshold: try integer(
                compressionThreshold, "COMPRESSION_THRESHOLD", default: WireDefaults.compressionThreshold, range: 0...(64 << 20), option: "--compression-threshold"
            ),
            clock: clock, exitWithParent: exitWithParent
        )
    }
}

public enum LogFormat: String, Sendable {
    case text
    case json
}

/// What a service runs with, after flags, environment and defaults were resolved and checked.
public struct ServiceSettings: Sendable {
    public var service: String
    public var host: String
    public var port: Int
    /// The admin HTTP endpoints (metrics, health, readiness).
    public var adminHost: String
    public var adminPort: Int
    public var dataDirectory: String
    public var tls: ServerTLSConfiguration
    public var logLevel: Logger.Level
    public var logFormat: LogFormat
    public var eventLoopThreads: Int
    public var drainSeconds: Int
    /// Answers at least this large are compressed for clients that accept deflate; 0: never.
    public var compressionThreshold = WireDefaults.compressionThreshold
    /// The dev clock (`--clock-file`), when the service's time is shifted; nil in production.
    public var clock: DevClock?
    /// Whether the service drains and exits when its parent process has gone (`--exit-with-parent`).
    public var exitWithParent = false

    /// The service's clock: real time, or the dev clock's shifted time. Every `now` the
    /// executable configures (servers, token verifiers) is this one; the gateway's rate limits
    /// are the exception: they follow elapsed time, so moving the clock neither fills nor drains
    /// their buckets.
    public var now: @Sendable () -> Date {
        guard let clock else { return { Date() } }
        return { clock.now() }
    }

    /// For calling another service (`serverName`) with this service's certificate (mutual TLS).
    public func clientTLS(serverName: String) -> ClientTLSConfiguration {
        ClientTLSConfiguration(trustRoots: tls.clientTrustRoots, identity: tls.identity, serverName: serverName)
    }

    /// The RPC server configuration for these settings.
    public var serverConfiguration: ServerConfiguration {
        var configuration = ServerConfiguration(host: host, port: port, tls: tls)
        configuration.eventLoopThreads = eventLoopThreads
        configuration.drainGracePeriod = .seconds(Int64(drainSeconds))
        configuration.compressionEnabled = compressionThreshold > 0
        configuration.compressionThreshold = max(1, compressionThreshold)
        configuration.agent = "tandem-\(service)/\(TandemVersion.version)"
        return configuration
    }
}

/// A configuration file: `name = value` lines (`#` starts a comment; values may be quoted),
/// names as the long options without their dashes, e.g. `admin-port = 9103`.
public struct ConfigurationFile: Sendable {
    /// Each setting as the `TANDEM_*` variable it stands for.
    public var environment: [String: String] = [:]

    public static func load(_ path: String, allowed: Set<String>) throws -> ConfigurationFile {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ServiceConfigurationError("--config \(path): no such readable file")
        }
        return try parse(text, path: path, allowed: allowed)
    }

    public static func parse(_ text: String, path: String, allowed: Set<String>) throws -> ConfigurationFile {
        var file = ConfigurationFile()
        var seen: Set<String> = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let place = "\(path):\(index + 1)"
            guard let equals = line.firstIndex(of: "=") else {
                throw ServiceConfigurationError("\(place): expected 'name = value', got '\(line.prefix(80))'")
            }
            let name = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            var value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, let first = value.first, first == "\"" || first == "'", value.last == first {
                value = String(value.dropFirst().dropLast())
            }
            guard allowed.contains(name) else {
                throw ServiceConfigurationError("\(place): unknown setting '\(name)' (known: \(allowed.sorted().joined(separator: ", ")))")
            }
            guard seen.insert(name).inserted else { throw ServiceConfigurationError("\(place): '\(name)' is set twice") }
            file.environment["TANDEM_" + name.uppercased().replacingOccurrences(of: "-", with: "_")] = value
        }
        return file
    }
}

/// A configuration problem, reported as one line before the service starts.
public struct ServiceConfigurationError: Error, CustomStringConvertible, Sendable {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// The version of Tandem and of the wire protocol it speaks.
public enum TandemVersion {
    public static let version = "0.1.0"
    public static let wireProtocolVersion = 1
    public static var text: String { "\(version) (wire protocol \(wireProtocolVersion))" }
}

/// The instances of another service an executable calls, from a repeatable `--<option>` flag or
/// its `TANDEM_<OPTION>` variable (either may list several, separated by commas), else `fallback`.
public enum ServiceEndpoints {
    /// `allowOff`: the single value `off` means none.
    public static func parse(
        _ flags: [String], option: String, environment: [String: String], default fallback: String, allowOff: Bool = false
    ) throws -> [Endpoint] {
        let variable = "TANDEM_" + option.uppercased().replacingOccurrences(of: "-", with: "_")
        let texts = (flags.isEmpty ? [environment[variable] ?? fallback] : flags)
            .flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        if allowOff, texts == ["off"] { return [] }
        return try texts.map { text in
            do {
                return try Endpoint(parsing: text)
            } catch {
                throw ServiceConfigurationError("--\(option) '\(text)' is not HOST:PORT\(allowOff ? " (or 'off')" : "")")
            }
        }
    }
}
