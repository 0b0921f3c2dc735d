import Foundation

/// Who may get the Cryptocurrency trading permission (CRY-01, CRY-02).
public enum Eligibility {
    /// Nil when `profile` is eligible; otherwise why not and what to do.
    public static func refusal(for profile: InvestorProfile?, settings: CryptoSettings) -> Refusal? {
        guard let profile else {
            return Refusal("CRY-02", "We have no investor profile for this account yet; "
                           + "complete your account profile, then request the permission again.")
        }
        guard profile.hongKongResident else {
            return Refusal("CRY-02", "Crypto trading here is open to Hong Kong residents only.")
        }
        guard profile.professionalInvestor else {
            return Refusal("CRY-02", "Crypto trading is open to Professional Investors only; "
                           + "apply for Professional Investor status first.")
        }
        switch profile.investorType {
        case .individual where profile.assetsHKD > settings.individualAssetsHKD,
             .institution where profile.assetsHKD > settings.institutionAssetsHKD:
            return nil
        case .individual:
            return Refusal("CRY-02", "Individuals need over HKD \(Money.text(settings.individualAssetsHKD)) "
                           + "of investable assets to trade crypto.")
        case .institution:
            return Refusal("CRY-02", "Institutions need over HKD \(Money.text(settings.institutionAssetsHKD)) "
                           + "of assets to trade crypto.")
        case nil:
            return Refusal("CRY-02", "Your profile does not say whether you are an individual or an institution; "
                           + "update it, then request the permission again.")
        }
    }
}
