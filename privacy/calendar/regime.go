// Package calendar owns the legal calendar of data-subject requests: which
// law governs a request, when its answer is due, how the clock stops while
// the requester owes us something, how and when the deadline may be
// extended, and when staff are reminded of it.
//
// Everything here is a pure function of its inputs (no time.Now, no I/O), so
// workflows may call it.
//
// The two privacy policies this system implements are cited as "seed 000"
// (Flowctory, /work/shared/seeds/000_e6fef9e9affbe851.txt) and "seed 004"
// (Flowzart, /work/shared/seeds/004_2ed540c001317e5a.txt), with their section
// numbers.
package calendar

import (
	"errors"
	"strings"
	"time"
)

// Regime is the data-protection law that governs a request's calendar.
type Regime string

// The regimes the policies name.
const (
	// GDPR is the EU GDPR (EEA). Seed 004 §12: "We will respond within one
	// month, or tell you why we need longer (up to two further months for
	// complex requests)." Art. 12(3) GDPR; months are counted as Regulation
	// (EEC, Euratom) No 1182/71 Art. 3(2)(c) does.
	GDPR Regime = "gdpr"
	// UKGDPR is the UK GDPR: the same calendar as GDPR (seed 004 §12, "If the
	// EU GDPR or UK GDPR applies ...").
	UKGDPR Regime = "uk_gdpr"
	// CCPA is the California Consumer Privacy Act as amended by the CPRA
	// (seed 000 §8, seed 004 §13; neither states a deadline). Statute: 45
	// calendar days, once extendable by 45 more with notice within the first
	// 45 (Cal. Civ. Code §1798.130(a)(2); 11 CCR §7021(b)). Like every
	// day-counted period here, the day of receipt is day 0 (Cal. Civ. Code
	// §10 excludes the first day), so a request of 1 March is due 15 April.
	CCPA Regime = "ccpa"
	// LGPD is Brazil's Lei Geral de Proteção de Dados (seed 004 §14 "Brazil
	// (LGPD)", silent on deadlines). Statute: 15 days "contado da data do
	// requerimento do titular" for a complete access declaration (Art. 19,
	// II), with no extension. Art. 18 §5 leaves the other rights' periods to
	// ANPD regulation; we apply the 15 days to every LGPD request.
	LGPD Regime = "lgpd"
	// PIPA is the Republic of Korea's Personal Information Protection Act
	// (seed 004 §14 "South Korea (PIPA)", silent on deadlines). Statute: 10
	// days for access, correction or deletion, and suspension (Enforcement
	// Decree Arts. 41(4), 43(3), 44(2)). Access may be postponed with a notice
	// of reasons (Act Art. 35(3), Decree Art. 42(2)) but by no fixed length,
	// so there is no extension here.
	PIPA Regime = "pipa"
	// PIPEDA is Canada's Personal Information Protection and Electronic
	// Documents Act (seed 004 §14 "Canada (PIPEDA)", silent on deadlines).
	// Statute: 30 days after receipt (s. 8(3)), extendable by at most 30 days
	// with notice sent within the first 30 (s. 8(4)(a)).
	PIPEDA Regime = "pipeda"
	// FADP is the Swiss Federal Act on Data Protection. Seed 000 §7 lists
	// Switzerland beside the EEA and UK and §7.9 promises "We will respond to
	// your request within 30 days."; the statute says the same (FADP Art.
	// 25(7): "in general within 30 days") and has no fixed-length extension
	// (the controller tells the requester a new date: DPO Art. 18).
	FADP Regime = "ch_fadp"
)

// rule is one regime's calendar: the period in calendar months or days, the
// extension in months or days (none when both are zero), and whether pauses
// stop the clock.
type rule struct {
	months, days       int
	extMonths, extDays int
	pausable           bool
}

var rules = map[Regime]rule{
	GDPR:   {months: 1, extMonths: 2, pausable: true},
	UKGDPR: {months: 1, extMonths: 2, pausable: true},
	// 11 CCR §7021(b): "The 45-day period will begin on the day that the
	// business receives the request, regardless of time required to verify
	// the request." So the CCPA clock never stops.
	CCPA:   {days: 45, extDays: 45},
	LGPD:   {days: 15, pausable: true},
	PIPA:   {days: 10, pausable: true},
	PIPEDA: {days: 30, extDays: 30, pausable: true},
	FADP:   {days: 30, pausable: true},
}

// Valid reports whether r is one of the regimes above.
func (r Regime) Valid() bool {
	_, ok := rules[r]
	return ok
}

// Extendable reports whether the regime allows a fixed-length extension.
func (r Regime) Extendable() bool {
	ru, ok := rules[r]
	return ok && (ru.extMonths > 0 || ru.extDays > 0)
}

// period returns the nominal due instant for a request received at t.
func (ru rule) period(t time.Time) time.Time {
	if ru.months > 0 {
		return AddMonths(t, ru.months)
	}
	return t.AddDate(0, 0, ru.days)
}

// extend returns the due instant after the extension, counted from due.
func (ru rule) extend(due time.Time) time.Time {
	if ru.extMonths > 0 {
		return AddMonths(due, ru.extMonths)
	}
	return due.AddDate(0, 0, ru.extDays)
}

// ErrNoRegion is returned by RegimeForRegion for an empty region.
var ErrNoRegion = errors.New("no region given")

// RegimeForRegion returns the regime for the requester's region: an ISO
// 3166-1 alpha-2 code ("FR", "GB", "BR", "KR", "CA", "CH"), an ISO 3166-2
// subdivision ("US-CA", "CA-QC", "FR-75"), or a name ("EU", "EEA", "UK",
// "California", "Brazil", "South Korea", "Canada", "Switzerland"); case and
// surrounding spaces do not matter. "CA" is Canada; California is "US-CA".
//
// Any other region, including US states other than California, gets GDPR,
// and no error: both controllers are established in the EU (seed 000 §9,
// France; seed 004 §2, Bulgaria), so Art. 3(1) GDPR applies to their
// processing wherever the requester lives, and seed 004 §14 promises no
// other rule for regions it does not list ("please contact us ... for
// guidance on local rights"). Only an empty region is an error.
func RegimeForRegion(region string) (Regime, error) {
	key := strings.ToUpper(strings.TrimSpace(region))
	if key == "" {
		return "", ErrNoRegion
	}
	if r, ok := regions[key]; ok {
		return r, nil
	}
	if country, _, ok := strings.Cut(key, "-"); ok {
		if r, ok := regions[country]; ok {
			return r, nil
		}
	}
	return GDPR, nil
}

var regions = func() map[string]Regime {
	m := map[string]Regime{
		"EU": GDPR, "EEA": GDPR, "EUROPEAN UNION": GDPR, "EUROPEAN ECONOMIC AREA": GDPR,
		"GB": UKGDPR, "UK": UKGDPR, "UNITED KINGDOM": UKGDPR, "GREAT BRITAIN": UKGDPR,
		"US-CA": CCPA, "CALIFORNIA": CCPA,
		"BR": LGPD, "BRAZIL": LGPD, "BRASIL": LGPD,
		"KR": PIPA, "SOUTH KOREA": PIPA, "KOREA": PIPA, "REPUBLIC OF KOREA": PIPA,
		"CA": PIPEDA, "CANADA": PIPEDA,
		"CH": FADP, "SWITZERLAND": FADP,
	}
	// The EU member states ("EL" is the EU's own code for Greece), their
	// outermost regions that have ISO codes, Åland, and the EEA states.
	for _, c := range strings.Fields(`AT BE BG HR CY CZ DK EE FI FR DE GR EL HU IE IT LV LT
		LU MT NL PL PT RO SK SI ES SE GF GP MQ RE YT MF AX IS LI NO`) {
		m[c] = GDPR
	}
	return m
}()
