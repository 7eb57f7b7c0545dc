package calendar

// Authority is a supervisory authority to which a requester may complain
// (seed 000 §7.8, "the right to lodge a complaint with a supervisory
// authority"; seed 004 §12 to 14).
type Authority struct {
	Name string
	Site string
}

// String names the authority with its site, for a notice.
func (a Authority) String() string { return a.Name + " (" + a.Site + ")" }

// CNIL is the controller's lead authority unless configured otherwise:
// seed 000 §7.8, "In France, the supervisory authority is the Commission
// Nationale de l'Informatique et des Libertés (CNIL)".
var CNIL = Authority{Name: "the Commission Nationale de l'Informatique et des Libertés (CNIL)", Site: "www.cnil.fr"}

// authorities are those of the regimes whose law names one; the EU GDPR
// goes to the controller's lead authority.
var authorities = map[Regime]Authority{
	UKGDPR: {Name: "the Information Commissioner's Office (ICO)", Site: "ico.org.uk"},
	CCPA:   {Name: "the California Privacy Protection Agency (CPPA)", Site: "cppa.ca.gov"},
	LGPD:   {Name: "the Autoridade Nacional de Proteção de Dados (ANPD)", Site: "www.gov.br/anpd"},
	PIPA:   {Name: "the Personal Information Protection Commission (PIPC)", Site: "www.pipc.go.kr"},
	PIPEDA: {Name: "the Office of the Privacy Commissioner of Canada (OPC)", Site: "www.priv.gc.ca"},
	FADP:   {Name: "the Federal Data Protection and Information Commissioner (FDPIC)", Site: "www.edoeb.admin.ch"},
}

// AuthorityFor is where a requester under the regime may complain: the
// regime's own authority, or for the EU GDPR the controller's lead
// authority (lead; CNIL when lead has no name).
func AuthorityFor(r Regime, lead Authority) Authority {
	if a, ok := authorities[r]; ok {
		return a
	}
	if lead.Name == "" {
		return CNIL
	}
	return lead
}
