package retention

import (
	"fmt"
	"strings"
	"time"
)

// Words says the period in plain words ("24 hours", "12 months",
// "1 year"), for people reading what we keep; "" for none.
func (p Period) Words() string {
	var parts []string
	add := func(n int64, unit string) {
		switch {
		case n == 1:
			parts = append(parts, "1 "+unit)
		case n > 1:
			parts = append(parts, fmt.Sprintf("%d %ss", n, unit))
		}
	}
	add(int64(p.Years), "year")
	add(int64(p.Months), "month")
	add(int64(p.Days), "day")
	rest := p.Exact
	add(int64(rest/time.Hour), "hour")
	rest %= time.Hour
	add(int64(rest/time.Minute), "minute")
	rest %= time.Minute
	add(int64(rest/time.Second), "second")
	return strings.Join(parts, " ")
}

// clockWords say when a clock starts, after a period ("90 days after
// posting") and on its own ("when you disconnect it").
var clockWords = map[Clock]struct{ after, when string }{
	AtUpload:           {"after upload", "on upload"},
	AtPublish:          {"after it is published", "when it is published"},
	AtPosting:          {"after posting", "on posting"},
	AtCreation:         {"after creation", "on creation"},
	AtLastActivity:     {"after your last activity", "when you stop using Loomcast"},
	AtFlowStart:        {"after the connection flow starts", "when the connection flow starts"},
	AtDisconnect:       {"after you disconnect the channel or connection", "when you disconnect the channel or connection"},
	AtRevocation:       {"after you revoke our access at the platform", "when you revoke our access at the platform"},
	AtClosure:          {"after you close your account", "when you close your account"},
	AtPurchase:         {"after purchase", "on purchase"},
	AtSubscriptionEnd:  {"after the subscription ends", "when the subscription ends"},
	AtLastContact:      {"after your last contact with us", "after your last contact with us"},
	AtConsentWithdrawn: {"after you withdraw your consent", "when you withdraw your consent"},
	AtUserDeletion:     {"after you delete it", "when you delete it"},
	AtProcessing:       {"after it is processed", "when it is processed"},
}

// actionWords say what happens at the end of a period.
var actionWords = map[Action]string{
	Delete:    "deleted",
	Anonymise: "anonymised",
	Restrict:  "restricted",
}

// Words says in plain words how long the policy keeps its data and what
// then happens, computed from the table: "deleted 90 days after posting",
// "deleted when you disconnect it". A record kept by law says for how
// long, from the statutory periods Loomcast knows by country.
func (p Policy) Words() string {
	clock, ok := clockWords[p.Starts]
	if !ok {
		panic("retention: no words for the clock " + string(p.Starts))
	}
	when := clock.when
	if w := p.Period.Words(); w != "" {
		when = w + " " + clock.after
	}
	if !p.Statutory {
		return actionWords[p.Action] + " " + when
	}
	lo, hi := StatutoryRange()
	span := lo.Words() + " to " + hi.Words()
	switch {
	case lo == hi:
		span = lo.Words()
	case lo == Period{Years: lo.Years} && hi == Period{Years: hi.Years}:
		span = fmt.Sprintf("%d to %d years", lo.Years, hi.Years)
	}
	return actionWords[p.Action] + " " + when + ", then kept only because tax and accounting law requires it, for " +
		span + " depending on the country, then deleted"
}

// StatutoryRange returns the shortest and the longest statutory keeping
// periods Loomcast knows, the default included (whole years).
func StatutoryRange() (shortest, longest Period) {
	shortest, longest = DefaultStatutory, DefaultStatutory
	origin := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, p := range statutory {
		if p.After(origin).Before(shortest.After(origin)) {
			shortest = p
		}
		if p.After(origin).After(longest.After(origin)) {
			longest = p
		}
	}
	return shortest, longest
}
