import CredentialVault
import Foundation

/// What a web login's sealed state carries from ``WebLogin/start(_:binding:now:)`` to
/// ``WebLogin/complete(callback:binding:now:)``.
///
/// Encoded as `version (1) ‖ flags (1: bit 0 client secret present, bit 1 may replace) ‖ nonce (16) ‖ binding hash
/// (32) ‖ expiry (i64 BE, Unix seconds) ‖ account ‖ client id ‖ token URL ‖ scopes ‖ redirect URI ‖ code verifier ‖
/// [client secret]`, each variable field as `length (u16 BE) ‖ bytes`. The secrets are copied only between wipeable
/// buffers.
struct WebLoginState: Sendable {
    static let formatVersion: UInt8 = 2
    static let nonceBytes = 16
    static let bindingHashBytes = 32

    /// Random; its hash is claimed once across instances (``CredentialVault/claimSingleUse(_:until:)``).
    var nonce: [UInt8]
    /// `WebLogin.bindingHash(_:)` of the browser binding given to ``WebLogin/start(_:binding:now:)``.
    var bindingHash: [UInt8]
    /// Unix seconds; the sealed state's expiry too.
    var expiresAt: Int64
    var account: AccountName
    var clientID: String
    var tokenURL: String
    var scopes: String
    var redirectURI: String
    var mayReplace: Bool
    var codeVerifier: SecureBytes
    var clientSecret: SecureBytes?

    var expiryDate: Date { Date(timeIntervalSince1970: TimeInterval(expiresAt)) }

    /// The plaintext to seal. Text fields longer than 65 535 bytes cannot be encoded (the caller checked lengths).
    func encoded() -> SecureBytes {
        var head: [UInt8] = [Self.formatVersion, (clientSecret == nil ? 0 : 1) | (mayReplace ? 2 : 0)]
        head += nonce
        head += bindingHash
        withUnsafeBytes(of: expiresAt.bigEndian) { head += $0 }
        for text in [account.rawValue, clientID, tokenURL, scopes, redirectURI] {
            Self.appendLength(text.utf8.count, to: &head)
            head += Array(text.utf8)
        }
        var parts = [head.withUnsafeBytes { SecureBytes(copying: $0) }]
        for secret in [codeVerifier, clientSecret].compactMap({ $0 }) {
            var length: [UInt8] = []
            Self.appendLength(secret.count, to: &length)
            parts += [length.withUnsafeBytes { SecureBytes(copying: $0) }, secret]
        }
        return SecureBytes.concatenating(parts)
    }

    private static func appendLength(_ count: Int, to bytes: inout [UInt8]) {
        let length = UInt16(clamping: count)
        bytes += [UInt8(length >> 8), UInt8(length & 0xFF)]
    }

    /// Decodes what ``encoded()`` produced; `nil` for anything else (a sealed state only opens if this vault sealed
    /// it, so this fails only for a state of another format version).
    init?(decoding plaintext: SecureBytes) {
        struct Malformed: Error {}
        var offset = 0
        func take(_ count: Int) throws(Malformed) -> Range<Int> {
            guard count >= 0, offset + count <= plaintext.count else { throw Malformed() }
            defer { offset += count }
            return offset..<(offset + count)
        }
        func bytes(_ range: Range<Int>) -> [UInt8] { plaintext.withUnsafeBytes { Array($0[range]) } }
        func length() throws(Malformed) -> Int {
            let field = bytes(try take(2))
            return Int(field[0]) << 8 | Int(field[1])
        }
        func text() throws(Malformed) -> String {
            guard let string = String(validating: bytes(try take(try length())), as: UTF8.self) else {
                throw Malformed()
            }
            return string
        }
        do throws(Malformed) {
            let head = bytes(try take(2))
            guard head[0] == Self.formatVersion, head[1] & ~3 == 0 else { return nil }
            nonce = bytes(try take(Self.nonceBytes))
            bindingHash = bytes(try take(Self.bindingHashBytes))
            expiresAt = bytes(try take(8)).reduce(Int64(0)) { $0 << 8 | Int64($1) }
            guard let name = try? AccountName(try text()) else { return nil }
            account = name
            clientID = try text()
            tokenURL = try text()
            scopes = try text()
            redirectURI = try text()
            mayReplace = head[1] & 2 != 0
            codeVerifier = plaintext.slice(try take(try length()))
            clientSecret = head[1] & 1 != 0 ? plaintext.slice(try take(try length())) : nil
            guard offset == plaintext.count else { return nil }
        } catch {
            return nil
        }
    }

    init(
        nonce: [UInt8],
        bindingHash: [UInt8],
        expiresAt: Int64,
        request: WebLoginRequest,
        codeVerifier: SecureBytes
    ) {
        self.nonce = nonce
        self.bindingHash = bindingHash
        self.expiresAt = expiresAt
        account = request.account
        clientID = request.clientID
        tokenURL = request.tokenURL
        scopes = request.scopes
        redirectURI = request.redirectURI
        mayReplace = request.mayReplace
        self.codeVerifier = codeVerifier
        clientSecret = request.clientSecret
    }
}
