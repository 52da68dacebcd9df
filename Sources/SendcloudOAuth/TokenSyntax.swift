package import CredentialVault

/// The syntax a token or scope from the token endpoint (or the store) must have before it is stored, printed or put
/// in a header: anything else is refused, so that a hostile answer cannot inject a header line or a terminal escape.
package enum TokenSyntax {
    /// RFC 6750 §2.1 `b64token`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
    package static func isB64Token(_ bytes: some Collection<UInt8>) -> Bool {
        var characters = 0
        var sawPadding = false
        for byte in bytes {
            if byte == UInt8(ascii: "=") {
                sawPadding = true
            } else if sawPadding || !isB64TokenCharacter(byte) {
                return false
            } else {
                characters += 1
            }
        }
        return characters > 0
    }

    /// ``isB64Token(_:)`` for a secret, without copying it out of its buffer.
    package static func isB64Token(_ secret: SecureBytes) -> Bool {
        secret.withUnsafeBytes { isB64Token($0) }
    }

    private static func isB64TokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
            UInt8(ascii: "~"), UInt8(ascii: "+"), UInt8(ascii: "/"):
            true
        default: false
        }
    }

    /// RFC 6749 §3.3 `scope`: space-separated `scope-token`s of `%x21 / %x23-5B / %x5D-7E` (printable ASCII but
    /// `"` and `\`), at most 1024 bytes.
    package static func isScope(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.count <= 1024 else { return false }
        return text.split(separator: " ", omittingEmptySubsequences: false).allSatisfy { token in
            !token.isEmpty
                && token.utf8.allSatisfy { $0 == 0x21 || (0x23...0x5B).contains($0) || (0x5D...0x7E).contains($0) }
        }
    }
}
