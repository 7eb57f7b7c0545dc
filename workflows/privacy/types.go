package privacy

// Canonical request types: what Loomcast does. Every right of the
// policies maps onto one of them.
const (
	TypeAccess        = "access"        // a copy of the data (export)
	TypePortability   = "portability"   // the same export, machine-readable
	TypeRectification = "rectification" // correct named profile fields
	TypeErasure       = "erasure"       // delete everything but records kept by law
	TypeRestriction   = "restriction"   // only storage, no processing
	TypeObjection     = "objection"     // stop processing based on legitimate interest
	TypeWithdrawal    = "withdrawal"    // withdraw consent to named purposes
	TypeOptOut        = "opt_out"       // opt out of sale or sharing
	TypeLimit         = "limit"         // limit use of sensitive data
)

// RightToKnow is the name of the CCPA right to know: its answer holds the
// categories of personal information, their sources, purposes, recipients
// and retention, besides the archive.
const RightToKnow = "ccpa_know"

// Right is one right a person can file, as the policies name it.
type Right struct {
	// Name is how the request is filed.
	Name string
	// Type is what Loomcast does.
	Type string
	// Law is where the right comes from.
	Law string
	// Review is true when staff must decide (the law allows a refusal or
	// needs a judgement).
	Review bool
}

// Rights lists every right of the policies (000 sections 7 and 8; 004
// sections 12 to 14) and what each maps onto.
var Rights = []Right{
	{"access", TypeAccess, "GDPR art. 15", false},
	{"portability", TypePortability, "GDPR art. 20", false},
	{"rectification", TypeRectification, "GDPR art. 16", true},
	{"erasure", TypeErasure, "GDPR art. 17", false},
	{"restriction", TypeRestriction, "GDPR art. 18", false},
	{"objection", TypeObjection, "GDPR art. 21", true},
	{"withdraw_consent", TypeWithdrawal, "GDPR art. 7(3)", false},
	{RightToKnow, TypeAccess, "CCPA 1798.100, 1798.110", false},
	{"ccpa_delete", TypeErasure, "CCPA 1798.105", false},
	{"ccpa_correct", TypeRectification, "CPRA 1798.106", true},
	{"ccpa_opt_out", TypeOptOut, "CCPA 1798.120 (Loomcast sells no personal information)", false},
	{"ccpa_limit", TypeLimit, "CPRA 1798.121", false},
	{"lgpd_access", TypeAccess, "LGPD art. 18 II", false},
	{"lgpd_correction", TypeRectification, "LGPD art. 18 III", true},
	{"lgpd_anonymisation", TypeErasure, "LGPD art. 18 IV", false},
	{"lgpd_blocking", TypeRestriction, "LGPD art. 18 IV", false},
	{"lgpd_portability", TypePortability, "LGPD art. 18 V", false},
	{"lgpd_deletion", TypeErasure, "LGPD art. 18 VI", false},
	{"lgpd_sharing_information", TypeAccess, "LGPD art. 18 VII", false},
	{"lgpd_withdraw_consent", TypeWithdrawal, "LGPD art. 18 IX", false},
	{"pipa_access", TypeAccess, "PIPA art. 35", false},
	{"pipa_correction", TypeRectification, "PIPA art. 36", true},
	{"pipa_deletion", TypeErasure, "PIPA art. 36", false},
	{"pipa_suspension", TypeRestriction, "PIPA art. 37", false},
	{"pipeda_access", TypeAccess, "PIPEDA principle 4.9", false},
	{"pipeda_correction", TypeRectification, "PIPEDA principle 4.9.5", true},
	{"pipeda_withdraw_consent", TypeWithdrawal, "PIPEDA principle 4.3.8", false},
}

// RightNamed returns the right filed under name.
func RightNamed(name string) (Right, bool) {
	for _, r := range Rights {
		if r.Name == name {
			return r, true
		}
	}
	return Right{}, false
}

// NeedsRecentAuth lists the types that disclose or destroy data: filed from
// a session, they need a recent password re-entry.
func NeedsRecentAuth(typ string) bool {
	return typ == TypeAccess || typ == TypePortability || typ == TypeErasure
}
