/// How many accounts a vault holds, by status: for a metrics gauge (``CredentialVault/accountCounts(now:)``).
///
/// The four counts are disjoint and add up to ``total``: an `ok` account that is backing off after failures counts
/// in ``backingOff`` only.
public struct AccountCounts: Sendable, Equatable {
    /// Status `ok` and not backing off: usable now.
    public var ok: Int
    /// Status `reauth-required`: the merchant must authorize again.
    public var reauthRequired: Int
    /// Status `ok`, with a next attempt time after `now`: the refresher leaves them alone until then.
    public var backingOff: Int
    /// Any other stored status (a row written by a newer version, or damaged): `verify` reports the damaged ones.
    public var other: Int

    /// Creates counts.
    public init(ok: Int = 0, reauthRequired: Int = 0, backingOff: Int = 0, other: Int = 0) {
        self.ok = ok
        self.reauthRequired = reauthRequired
        self.backingOff = backingOff
        self.other = other
    }

    /// Every account.
    public var total: Int { ok + reauthRequired + backingOff + other }
}
