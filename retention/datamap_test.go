package retention

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The policies, copied byte for byte from the seeds into testdata.
var policyFiles = map[string]string{
	"000": "000_e6fef9e9affbe851.txt",
	"004": "004_2ed540c001317e5a.txt",
}

func readPolicies(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for id, name := range policyFiles {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		require.NoError(t, err)
		out[id] = string(b)
	}
	return out
}

var spaces = regexp.MustCompile(`\s+`)

func normalise(s string) string { return strings.TrimSpace(spaces.ReplaceAllString(s, " ")) }

// section returns the text of a policy's top-level section holding sec
// ("5.4" is in section 5): from its heading at the start of a line (the
// tables of contents are indented or bulleted) to the next section's.
func section(text, sec string) string {
	top, _, _ := strings.Cut(sec, ".")
	n, err := strconv.Atoi(top)
	if err != nil {
		return ""
	}
	start := regexp.MustCompile(`(?m)^` + strconv.Itoa(n) + `\. `).FindStringIndex(text)
	if start == nil {
		return ""
	}
	rest := text[start[0]:]
	if end := regexp.MustCompile(`(?m)^` + strconv.Itoa(n+1) + `\. `).FindStringIndex(rest); end != nil {
		rest = rest[:end[0]]
	}
	return rest
}

// quoted reports whether the quote is in its policy's section.
func quoted(policies map[string]string, q Quote) bool {
	text, ok := policies[q.Policy]
	if !ok || strings.TrimSpace(q.Text) == "" {
		return false
	}
	return strings.Contains(normalise(section(text, q.Section)), normalise(q.Text))
}

func TestQuotesAreLookedUpInTheirSection(t *testing.T) {
	policies := readPolicies(t)
	tests := []struct {
		name string
		q    Quote
		want bool
	}{
		{"in its section", Quote{"004", "13", "We do not sell or share your personal information"}, true},
		{"in a subsection, across a line break", Quote{"000", "5.4", "We use Supabase for cloud file storage."}, true},
		{"in another section", Quote{"004", "12", "We do not sell or share your personal information"}, false},
		{"in the other policy", Quote{"000", "8", "We do not sell or share your personal information"}, false},
		{"not in the policy", Quote{"004", "7", "We share personal data with advertisers"}, false},
		{"an unknown policy", Quote{"999", "1", "Privacy"}, false},
		{"an unknown section", Quote{"004", "99", "Privacy"}, false},
		{"nothing quoted", Quote{"004", "7", " "}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, quoted(policies, tt.q))
		})
	}
}

// TestDataMapAndRetentionTableCannotDrift: every retention category is in
// the data map or excluded with a reason, and the map names only
// categories of the table.
func TestDataMapAndRetentionTableCannotDrift(t *testing.T) {
	inTable := map[Category]bool{}
	for _, p := range Policies {
		inTable[p.Category] = true
	}
	mapped := map[Category]string{}
	for _, c := range DataMap {
		for _, cat := range c.Retention {
			require.True(t, inTable[cat], "%s names the retention category %q, which is not in the table", c.Name, cat)
			mapped[cat] = c.Name
		}
	}
	for _, p := range Policies {
		t.Run(string(p.Category), func(t *testing.T) {
			why, excluded := NotInDataMap[p.Category]
			_, isMapped := mapped[p.Category]
			require.True(t, isMapped != excluded,
				"the retention category %s must be in exactly one of DataMap (a category of personal information keeps it) or NotInDataMap (with the reason)", p.Category)
			if excluded {
				require.NotEmpty(t, strings.TrimSpace(why), "say why %s holds no personal information collected today", p.Category)
			}
		})
	}
	for cat := range NotInDataMap {
		require.True(t, inTable[cat], "NotInDataMap names %q, which is not in the table", cat)
	}
	for cat, note := range RetentionNotes {
		require.True(t, inTable[cat], "RetentionNotes names %q, which is not in the table", cat)
		_, isMapped := mapped[cat]
		require.True(t, isMapped, "the note on %s would never be read: no category of the map keeps it", cat)
		require.NotEmpty(t, note)
	}
}

// TestDataMapSaysWhatThePoliciesSay: every category, source, purpose and
// recipient quotes the policy sentences it rests on, found in the section
// cited, and every category says everything the right to know asks.
func TestDataMapSaysWhatThePoliciesSay(t *testing.T) {
	policies := readPolicies(t)
	requireQuoted := func(t *testing.T, what string, qs []Quote) {
		t.Helper()
		require.NotEmpty(t, qs, "%s cites no policy sentence", what)
		for _, q := range qs {
			require.True(t, quoted(policies, q), "%s: policy %s section %s does not say %q", what, q.Policy, q.Section, q.Text)
		}
	}
	names := map[string]bool{}
	for _, c := range DataMap {
		t.Run(c.Name, func(t *testing.T) {
			require.False(t, names[c.Name], "two categories are named %s", c.Name)
			names[c.Name] = true
			require.NotEmpty(t, c.Holds)
			require.NotEmpty(t, c.Legal, "which CCPA categories (1798.140(v)) does it fall in?")
			require.NotEmpty(t, c.Sources)
			require.NotEmpty(t, c.Purposes)
			require.NotEmpty(t, c.Recipients)
			require.NotEmpty(t, c.Tables, "which tables hold its specific pieces?")
			require.True(t, len(c.Retention) > 0 || c.Kept != "", "how long is it kept?")
			requireQuoted(t, c.Name, c.Policy)
			for _, s := range c.Sources {
				requireQuoted(t, "source "+s.Name, s.Policy)
			}
			for _, p := range c.Purposes {
				requireQuoted(t, "purpose "+p.Name, p.Policy)
			}
			for _, r := range c.Recipients {
				requireQuoted(t, "recipient "+r.Name, r.Policy)
			}
			for _, l := range c.Legal {
				require.Regexp(t, `^Cal\. Civ\. Code 1798\.140\((v|ae)\)`, l.Cite, l.Name)
			}
		})
	}
	t.Run("the recipients any category may go to", func(t *testing.T) {
		for _, r := range MayAlsoDisclose {
			requireQuoted(t, "recipient "+r.Name, r.Policy)
		}
	})
}

// TestNothingIsSoldOrShared holds the map's answer to the policies'.
func TestNothingIsSoldOrShared(t *testing.T) {
	policies := readPolicies(t)
	for _, q := range NoSaleQuotes {
		require.True(t, quoted(policies, q), "policy %s section %s does not say %q", q.Policy, q.Section, q.Text)
	}
	for _, c := range DataMap {
		require.False(t, c.Sold, "%s: the policies say nothing is sold", c.Name)
		require.False(t, c.Shared, "%s: the policies say nothing is shared for cross-context behavioural advertising", c.Name)
	}
}

func TestRetentionInWords(t *testing.T) {
	tests := []struct {
		category Category
		want     string
	}{
		{Uploads, "deleted 24 hours after upload"},
		{PostMetadata, "deleted 90 days after posting"},
		{ServerLogs, "deleted 30 days after creation"},
		{SecurityLogs, "deleted 12 months after creation"},
		{OAuthFlowState, "deleted 10 minutes after the connection flow starts"},
		{Sessions, "deleted 30 minutes after your last activity"},
		{PlatformTokens, "deleted when you disconnect the channel or connection"},
		{YouTubeDataDisconnected, "deleted 7 days after you disconnect the channel or connection"},
		{YouTubeDataRevoked, "deleted 30 days after you revoke our access at the platform"},
		{ClosedAccounts, "deleted 30 days after you close your account"},
		{LibraryMedia, "deleted when you delete it"},
		{BundleLedger, "restricted 1 year after purchase, then kept only because tax and accounting law requires it, for 6 to 10 years depending on the country, then deleted"},
		{SubscriptionRecords, "restricted when the subscription ends, then kept only because tax and accounting law requires it, for 6 to 10 years depending on the country, then deleted"},
		{SupportCommunication, "deleted 3 years after your last contact with us"},
		{Marketing, "deleted 24 months after your last activity"},
		{PrivacyExports, "deleted 7 days after creation"},
	}
	for _, tt := range tests {
		t.Run(string(tt.category), func(t *testing.T) {
			require.Equal(t, tt.want, Lookup(tt.category).Words())
		})
	}
	t.Run("every clock has words", func(t *testing.T) {
		for _, p := range Policies {
			require.NotPanics(t, func() { _ = p.Words() }, p.Category)
		}
	})
	t.Run("periods", func(t *testing.T) {
		require.Equal(t, "1 year 2 months 1 day 1 hour 30 minutes", Period{Years: 1, Months: 2, Days: 1, Exact: 90 * 60e9}.Words())
		require.Equal(t, "", Period{}.Words())
	})
	t.Run("a category's lines carry the notes and what no row covers", func(t *testing.T) {
		c := InfoCategory{Retention: []Category{Marketing, PostMetadata}, Kept: "Kept as long as needed."}
		require.Equal(t, []string{
			"marketing data: deleted 24 months after your last activity; sooner if you withdraw your consent.",
			"post metadata: caption, settings, status, publish ids: deleted 90 days after posting.",
			"Kept as long as needed.",
		}, c.RetentionWords())
	})
}
