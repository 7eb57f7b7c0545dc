package server

import (
	"errors"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/loomcast/loomcast/privacy/calendar"
)

// ageConfirmation is what creating an account asks so that children are
// kept out (policy 000 section 12: not intended for children under 16 in
// the EU, 13 elsewhere; 004 section 16): the country the person lives in,
// which sets the minimum age, and their age in whole years.
//
// Neither is stored. Their one purpose is to decide whether the account
// may exist; once it does, the account itself shows that the check was
// passed, since no path creates an account without it. A birth date, or
// even a birth year, would be more than that purpose needs (GDPR art.
// 5(1)(c)), and a birth year cannot tell a 15-year-old from a 16-year-old
// in the year of their birthday. Asking the age, rather than "are you over
// 16?", is a neutral question that does not suggest the answer.
type ageConfirmation struct {
	// Country is the ISO 3166-1 alpha-2 code of where the person lives.
	Country string `json:"country"`
	// Age is the person's age in whole years.
	Age *int `json:"age"`
}

// maxAge bounds what is taken for an age.
const maxAge = 150

// check adds what is missing or wrong to fields, and returns the refusal
// when the confirmed age is below the country's minimum: that answer comes
// before any other, so that a child is not asked to fix the rest of the
// form first.
func (a ageConfirmation) check(fields map[string]string) *Error {
	minAge, err := calendar.MinimumAge(a.Country)
	switch {
	case errors.Is(err, calendar.ErrNoCountry):
		fields["country"] = "is required: the two-letter code of the country you live in (ISO 3166-1, such as FR or US)"
	case err != nil:
		fields["country"] = "must be the two-letter code of a country (ISO 3166-1, such as FR or US)"
	}
	switch {
	case a.Age == nil:
		fields["age"] = "is required: your age in whole years"
	case *a.Age < 0 || *a.Age > maxAge:
		fields["age"] = "must be your age in whole years"
	case err == nil && *a.Age < minAge:
		return underAge(minAge)
	}
	return nil
}

// underAge is the plain refusal of an account to a person below minAge.
func underAge(minAge int) *Error {
	return errorf(CodeUnderAge, "Sorry, you must be at least %d years old to have a Loomcast account where you live "+
		"(%d in the EU, the EEA and the UK, %d elsewhere). No account was created and nothing you entered was kept.",
		minAge, calendar.MinimumAgeEurope, calendar.MinimumAgeElsewhere)
}

// ageFromQuery reads an age confirmation from the query (the start of
// Google sign-in is a browser navigation, with no body). given is false
// when neither parameter is there.
func ageFromQuery(c *gin.Context) (a ageConfirmation, given bool) {
	country, age := c.Query("country"), c.Query("age")
	if country == "" && age == "" {
		return a, false
	}
	a.Country = country
	if age != "" {
		n, err := strconv.Atoi(age)
		if err != nil {
			n = -1 // not a whole number: check says so
		}
		a.Age = &n
	}
	return a, true
}
