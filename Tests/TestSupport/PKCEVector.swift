/// The PKCE example of RFC 7636 Appendix B: a verifier and its S256 challenge.
public enum PKCEVector {
    /// `code_verifier` of the example (43 characters).
    public static let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    /// `BASE64URL(SHA256(verifier))`, the `code_challenge` for `code_challenge_method=S256`.
    public static let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
}
