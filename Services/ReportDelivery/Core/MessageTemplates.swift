import Foundation

/// DLV-09: the texts of Message Center messages and of the e-mail/SMS summaries, one JSON file per
/// language (`Templates/<language>.json`). Placeholders are `{user_name}`, `{period}`,
/// `{file_name}` and `{retention_days}`; a summary never names a statement's content or figures.
public struct MessageTemplates: Sendable {
    /// What a message is about.
    public enum Kind: String, Sendable, CaseIterable {
        case statementAvailable = "statement_available"
        case statementHeld = "statement_held"
        case accessReady = "access_ready"
    }

    /// One message's texts.
    public struct Text: Sendable, Codable, Equatable {
        public let subject: String
        /// The Message Center message.
        public let body: String
        /// What an e-mail or SMS says: that a message is waiting, nothing more.
        public let summary: String
    }

    /// The rendered texts of one message.
    public struct Rendered: Sendable, Equatable {
        public let language: String
        public let subject: String
        public let body: String
        public let summary: String
    }

    private let texts: [String: [Kind: Text]]

    /// The languages there are templates for, e.g. `en`, `pt`, `zh-Hant`.
    public var languages: [String] { texts.keys.sorted() }

    /// The templates shipped with the service.
    public static func bundled() throws -> MessageTemplates {
        guard let folder = Bundle.module.url(forResource: "Templates", withExtension: nil) else {
            throw TemplateError.missing("the bundled Templates folder")
        }
        return try MessageTemplates(folder: folder)
    }

    /// Reads every `*.json` file of `folder`; each must have every ``Kind``.
    public init(folder: URL) throws {
        var texts: [String: [Kind: Text]] = [:]
        let files = try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "json" }
        for file in files {
            let language = file.deletingPathExtension().lastPathComponent
            let object = try JSONDecoder().decode([String: Text?].self, from: Data(contentsOf: file).filteringLanguageKey())
            var kinds: [Kind: Text] = [:]
            for kind in Kind.allCases {
                guard let text = object[kind.rawValue] ?? nil else {
                    throw TemplateError.missing("\(kind.rawValue) in \(file.lastPathComponent)")
                }
                kinds[kind] = text
            }
            texts[language] = kinds
        }
        guard texts["en"] != nil else { throw TemplateError.missing("en.json (the fallback language)") }
        self.texts = texts
    }

    /// Whether there are templates for `language`.
    public func supports(_ language: String) -> Bool { texts[language] != nil }

    /// `kind` in `language` (English when there is no template for it), placeholders filled.
    public func render(_ kind: Kind, language: String, values: [String: String]) -> Rendered {
        let chosen = texts[language] != nil ? language : "en"
        let text = texts[chosen]![kind]!
        func fill(_ template: String) -> String {
            values.reduce(template) { $0.replacingOccurrences(of: "{\($1.key)}", with: $1.value) }
        }
        return Rendered(language: chosen, subject: fill(text.subject), body: fill(text.body), summary: fill(text.summary))
    }
}

public enum TemplateError: Error, CustomStringConvertible {
    case missing(String)

    public var description: String {
        switch self {
        case .missing(let what): "message templates: missing \(what)"
        }
    }
}

private extension Data {
    /// Drops the informational `"language"` key so the rest decodes as texts.
    func filteringLanguageKey() throws -> Data {
        guard var object = try JSONSerialization.jsonObject(with: self) as? [String: Any] else {
            throw TemplateError.missing("a JSON object")
        }
        object.removeValue(forKey: "language")
        return try JSONSerialization.data(withJSONObject: object)
    }
}
