import CredentialVault
import SendcloudOAuth

/// What an operator reads when a token operation on an account fails: one short line that names the account, says
/// what happened in plain words and what to do next (`account 'm05' needs re-authorization: run 'sendcloud-vault
/// login m05'`). The library's full message (which may quote the server's `error_description`) stays in `--json`'s
/// `detail` and in the log lines of `--verbose`.
enum FailureAdvice {
    /// The message for `error` on `account` (`NAME` when the account is not known).
    static func message(for error: OAuthError, account: AccountName?) -> String {
        let name = account?.rawValue ?? "NAME"
        let subject = account.map { "account '\($0)'" } ?? "the request"
        let server = error.oauthError.map { ", \(Output.inert(String($0.prefix(60))))" } ?? ""
        let status = error.httpStatus.map { "HTTP \($0)" } ?? ""
        switch error.code {
        case .reauthorizationRequired:
            // The server's answer is named when it came just now (a stored status is refused without a request).
            let answered = error.httpStatus == nil ? "" : " (the token endpoint answered \(status)\(server))"
            return "\(subject) needs re-authorization\(answered): run 'sendcloud-vault login \(name)'"
        case .invalidClient:
            return "\(subject): the token endpoint refused the client id or secret (invalid_client); after a rotation "
                + "in the Sendcloud panel, run 'sendcloud-vault update \(name) --client-secret-file FILE'"
        case .requestRejected:
            return "\(subject): the token endpoint refused the request (\(status)\(server)); check the account's mode "
                + "and scope ('sendcloud-vault show \(name)')"
        case .unreachable:
            return "\(subject): \(error.message) (after retries); check the network and the token URL "
                + "('sendcloud-vault show \(name)')"
        case .serverError, .rateLimited:
            return "\(subject): the token endpoint answered \(status.isEmpty ? "with errors" : status) after retries; "
                + "try again later"
        case .invalidResponse:
            return "\(subject): \(error.message); the grant may have been used: run 'sendcloud-vault refresh \(name) "
                + "--force', and 'sendcloud-vault login \(name)' if that fails"
        case .insecureTokenURL:
            return "\(subject): \(error.message); change it with 'sendcloud-vault update \(name) --token-url URL'"
        default:
            return account.map { "account '\($0)': \(error.message)" } ?? error.message
        }
    }
}
