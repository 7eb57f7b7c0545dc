package scan

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/loomcast/loomcast/models"
)

// term is one identifier as the scan searches for it: its label and the
// LIKE patterns of each of its spellings.
type term struct {
	label    string
	value    string
	spelling []string // lowercased, for blob keys
	patterns []string
}

// prepare checks the identifiers and turns them into terms. Values equal
// but for case become one term.
func prepare(ids Identifiers) ([]term, error) {
	if len(ids.Values) == 0 && len(ids.BlobPrefixes) == 0 {
		return nil, ErrNothingToFind
	}
	var terms []term
	seen := map[string]bool{}
	for _, id := range ids.Values {
		label := id.Label
		if label == "" {
			label = "identifier"
		}
		if utf8.RuneCountInString(id.Value) < MinIdentifierLength {
			return nil, fmt.Errorf("identifier %q is shorter than %d characters: it would match unrelated data", label, MinIdentifierLength)
		}
		if seen[strings.ToLower(id.Value)] {
			continue
		}
		seen[strings.ToLower(id.Value)] = true
		t := term{label: label, value: id.Value}
		for _, s := range spellings(id.Value) {
			t.spelling = append(t.spelling, strings.ToLower(s))
			t.patterns = append(t.patterns, "%"+escapeLike(s)+"%")
		}
		terms = append(terms, t)
	}
	return terms, nil
}

// condition is the SQL that expr contains one of the term's spellings,
// ignoring case (ILIKE on PostgreSQL; SQLite's LIKE ignores ASCII case).
func (t term) condition(dialect models.Dialect, expr string) (string, []any) {
	op := " LIKE "
	if dialect == models.Postgres {
		op = " ILIKE "
	}
	parts := make([]string, len(t.patterns))
	args := make([]any, len(t.patterns))
	for i, p := range t.patterns {
		parts[i] = expr + op + `? ESCAPE '\'`
		args[i] = p
	}
	return "(" + strings.Join(parts, " OR ") + ")", args
}

// inKey reports whether a lowercased blob key contains the term.
func (t term) inKey(lowerKey string) bool {
	for _, s := range t.spelling {
		if strings.Contains(lowerKey, s) {
			return true
		}
	}
	return false
}

// textExpr is a column as text: PostgreSQL needs a cast for JSON, UUIDs
// and other types; on SQLite it keeps BLOB-affinity values comparable.
func textExpr(c Column) string {
	if c.Kind == KindText {
		return Quote(c.Name)
	}
	return "CAST(" + Quote(c.Name) + " AS TEXT)"
}

// escapeLike makes s match itself literally in a LIKE pattern with
// backslash as the escape character.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// spellings are the forms in which a value may be stored: as is, escaped
// inside a JSON string (by Go, and by encoders that escape every non-ASCII
// character), and escaped in a URL query or path.
func spellings(v string) []string {
	out := []string{v}
	add := func(s string) {
		for _, o := range out {
			if strings.EqualFold(o, s) {
				return
			}
		}
		out = append(out, s)
	}
	add(jsonEscape(v, false))
	add(jsonEscape(v, true))
	add(url.QueryEscape(v))
	add(url.PathEscape(v))
	return out
}

// jsonEscape is v as it appears between the quotes of a JSON string.
func jsonEscape(v string, asciiOnly bool) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // a string always encodes
	s := strings.TrimSuffix(b.String(), "\n")
	s = s[1 : len(s)-1]
	if !asciiOnly {
		return s
	}
	var out strings.Builder
	for _, r := range s {
		switch {
		case r < utf8.RuneSelf:
			out.WriteRune(r)
		case r > 0xFFFF:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&out, `\u%04x\u%04x`, r1, r2)
		default:
			fmt.Fprintf(&out, `\u%04x`, r)
		}
	}
	return out.String()
}

// Mentions returns the SQL condition, with its arguments for the ?
// placeholders, that a row of t holds one of the identifiers in a
// text-like column: the test Scan applies, for a caller's own query. It
// returns "" when t has no such column or ids has no values.
func Mentions(dialect models.Dialect, t Table, ids Identifiers) (string, []any, error) {
	if len(ids.Values) == 0 {
		return "", nil, nil
	}
	terms, err := prepare(ids)
	if err != nil {
		return "", nil, err
	}
	var (
		parts []string
		args  []any
	)
	for _, c := range t.Columns {
		if !c.Kind.Searchable() {
			continue
		}
		for _, tm := range terms {
			cond, a := tm.condition(dialect, textExpr(c))
			parts = append(parts, cond)
			args = append(args, a...)
		}
	}
	if len(parts) == 0 {
		return "", nil, nil
	}
	return "(" + strings.Join(parts, " OR ") + ")", args, nil
}
