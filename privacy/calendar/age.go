package calendar

import (
	"errors"
	"strings"

	"golang.org/x/text/language"
)

// The minimum ages of an account holder. Seed 000 §12: "The Service is
// not intended for children under the age of 16 in the European Union or
// 13 in other jurisdictions." The EEA (which applies the GDPR) and the UK
// are held to the EU's 16, as both policies treat them alike everywhere
// else; the UK's own Art. 8 age is 13 (DPA 2018 s. 9), so 16 is stricter
// than its law, never looser. Seed 004 §16 says only "not directed at
// children under 16"; elsewhere the stated 13 of seed 000 applies.
const (
	MinimumAgeEurope    = 16
	MinimumAgeElsewhere = 13
)

// Errors of Country and MinimumAge.
var (
	ErrNoCountry      = errors.New("no country given")
	ErrUnknownCountry = errors.New("not an ISO 3166-1 country code")
)

// Country normalises a country code: two letters naming a country in ISO
// 3166-1 ("fr" is "FR"; "UK", the EU's spelling, is "GB"; "EL" is "GR").
// Names, numeric codes, subdivisions, groups such as "EU" and private-use
// codes such as "ZZ" are refused.
func Country(code string) (string, error) {
	key := strings.ToUpper(strings.TrimSpace(code))
	switch key {
	case "":
		return "", ErrNoCountry
	case "UK":
		return "GB", nil
	case "EL":
		return "GR", nil
	}
	if len(key) != 2 || key[0] < 'A' || key[0] > 'Z' || key[1] < 'A' || key[1] > 'Z' {
		return "", ErrUnknownCountry
	}
	r, err := language.ParseRegion(key)
	if err != nil || !r.IsCountry() || r.IsPrivateUse() || r.ISO3() == "ZZZ" {
		return "", ErrUnknownCountry
	}
	return r.String(), nil
}

// MinimumAge is the age below which a person living in the country may
// not hold an account: 16 in the EU, the EEA and the UK (the countries
// whose regime is GDPR or UKGDPR), 13 elsewhere.
func MinimumAge(country string) (int, error) {
	code, err := Country(country)
	if err != nil {
		return 0, err
	}
	if r := regions[code]; r == GDPR || r == UKGDPR {
		return MinimumAgeEurope, nil
	}
	return MinimumAgeElsewhere, nil
}
