/// DLV-03: recognises text that is, or contains, a private key in any common format, so it is
/// refused before anything else looks at it.
///
/// Formats: OpenSSH (`BEGIN OPENSSH PRIVATE KEY`, and its bare base64 body), PEM (`RSA`, `EC`,
/// `DSA`), PKCS#8 (`PRIVATE KEY`, `ENCRYPTED PRIVATE KEY`), RFC 4716 / ssh.com private keys,
/// PuTTY `.ppk` (versions 2 and 3) and OpenPGP secret keys (`PGP PRIVATE KEY BLOCK`).
public enum PrivateKeyDetector {
    /// What the user is told. It repeats nothing of what was sent.
    public static let refusal = "this is (or contains) a private key, which must never leave your computer and was "
        + "not stored (DLV-03). Treat that key as exposed: make a new key pair and send only its public half "
        + "(the .pub file, or puttygen -L / -p output; for PGP, gpg --export --armor)"

    /// Markers of the formats above, compared without regard to case.
    private static let markers = [
        "private key",             // every PEM, PKCS#8, OpenSSH, SSH2 and PGP private armor line
        "putty-user-key-file-",    // .ppk
        "private-lines:",          // .ppk body
        "private-mac:",            // .ppk trailer
        "b3blbnnzac1rzxktdjE",     // base64 of "openssh-key-v1": an OpenSSH private key without its armor
    ].map { $0.lowercased() }

    /// Whether `text` contains a private key.
    public static func containsPrivateKey(_ text: String) -> Bool {
        let lowered = text.lowercased()
        return markers.contains { lowered.contains($0) }
    }
}
