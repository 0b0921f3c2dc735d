import Foundation
import SLSBus
import SLSClientOptions
import SLSMessages


/// Where each part of the stack listens and which API it serves.
struct ServiceDirectory {
    typealias Entry = CatalogEntry

    static let entries = ServiceCatalog.all

    /// The environment variable overriding a service's endpoint, e.g. `SLSCTL_CRYPTO_RULES`.
    static func variable(for name: String) -> String {
        ServiceCatalog.entry(named: name)?.slsctlVariable ?? "SLSCTL_" + name.uppercased()
    }

    static func entry(named name: String) throws -> Entry {
        guard let entry = entries.first(where: { $0.name == name }) else {
            throw SlsctlError("unknown service '\(name)'; known: \(entries.map(\.name).joined(separator: ", "))")
        }
        return entry
    }

    static func endpoint(for entry: Entry) -> String {
        let value = ProcessInfo.processInfo.environment[variable(for: entry.name)] ?? ""
        return value.isEmpty ? entry.defaultEndpoint : value
    }

    /// Finds a method by full name (`pkg.Service/Method`), `Service/Method` or bare `Method`.
    static func method(_ name: String, of entry: Entry) throws -> AnyRPCMethod {
        let candidates = ProtoRegistry.methods.filter { method in
            method.fullName == name || method.fullName.hasSuffix(".\(name)")
                || (method.methodName == Substring(name)
                    && (method.fullName.hasPrefix(entry.api + "/") || isCommon(method.fullName)))
        }
        guard candidates.count == 1, let method = candidates.first else {
            let offered = ProtoRegistry.methods.filter {
                $0.fullName.hasPrefix(entry.api + "/") || isCommon($0.fullName)
            }.map(\.fullName)
            throw SlsctlError("\(candidates.isEmpty ? "no" : "more than one") method matches '\(name)' on \(entry.name); "
                              + "it offers: \(offered.joined(separator: ", "))")
        }
        return method
    }
}

/// Methods every service serves (health, event replay).
private func isCommon(_ fullName: String) -> Bool {
    fullName.hasPrefix(HealthAPI.serviceName + "/") || fullName.hasPrefix(EventLogAPI.serviceName + "/")
}

/// A usage or input problem, reported in one line.
typealias SlsctlError = ClientError
