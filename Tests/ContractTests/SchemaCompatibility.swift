import SLSMessages

/// The protobuf evolution rules, checked against the committed snapshot.
enum SchemaCompatibility {
    /// Every way `current` breaks a field that `committed` promised.
    static func problems(committed: [FieldSchema], current: MessageSchema) -> [String] {
        var problems: [String] = []
        for old in committed {
            if let now = current.fields.first(where: { $0.number == old.number }) {
                if now.name != old.name {
                    problems.append("\(current.name): field \(old.number) was '\(old.name)', now '\(now.name)'")
                }
                if now.type != old.type || now.label != old.label {
                    problems.append("\(current.name).\(old.name) (\(old.number)) was \(old.label) \(old.type), "
                                    + "now \(now.label) \(now.type)")
                }
            } else if !current.isReserved(number: old.number) || !current.reservedNames.contains(old.name) {
                problems.append("\(current.name).\(old.name) (\(old.number)) was removed without reserving "
                                + "its number and name")
            }
            if let renumbered = current.fields.first(where: { $0.name == old.name && $0.number != old.number }) {
                problems.append("\(current.name).\(old.name) moved from \(old.number) to \(renumbered.number)")
            }
        }
        return problems
    }
}
