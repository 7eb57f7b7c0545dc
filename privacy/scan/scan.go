// Package scan finds what the database and the blob store still hold of a
// person: the completeness check that ends every erasure. It discovers the
// tables and their text-like columns from the live schema (never from a
// hand-kept list), searches every one of them for the person's identifiers,
// and lists the blob keys that name them.
package scan

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"

	"gorm.io/gorm"

	"github.com/loomcast/loomcast/blob"
	"github.com/loomcast/loomcast/models"
)

// MinIdentifierLength is the shortest identifier Scan accepts, in
// characters: anything shorter would match unrelated data everywhere.
const MinIdentifierLength = 4

// skipped tables are never searched: they hold no personal data.
var skipped = map[string]bool{"schema_migrations": true}

// ErrNothingToFind is returned for Identifiers without a value or a blob
// prefix: such a scan would find nothing and prove nothing.
var ErrNothingToFind = errors.New("no identifiers to look for")

// Identifier is one value that identifies the person, with a label saying
// what it is ("email", "tiktok account ID").
type Identifier struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// Identifiers are what Scan looks for. They marshal to JSON, so that they
// can be kept with the request they serve.
type Identifiers struct {
	// Values are searched, case-insensitively, in every text-like column
	// and in every blob key.
	Values []Identifier `json:"values"`
	// BlobPrefixes name blob keys that belong to the person wherever the
	// key comes from (e.g. "uploads/<user id>/").
	BlobPrefixes []string `json:"blob_prefixes,omitempty"`
}

// Add appends an identifier, ignoring an empty value or one already there
// (compared case-insensitively).
func (ids *Identifiers) Add(label, value string) {
	if value == "" {
		return
	}
	for _, v := range ids.Values {
		if strings.EqualFold(v.Value, value) {
			return
		}
	}
	ids.Values = append(ids.Values, Identifier{Label: label, Value: value})
}

// ForAccount returns the identifiers Loomcast itself holds for an account:
// its user ID, email, Google subject, the account IDs of its channels on
// each platform (TikTok open_id, YouTube channel ID), and the blob prefix
// of its uploads. Read them before erasing anything. A display name is
// not added: add it when it is distinctive enough not to match others.
func ForAccount(u models.User, channels []models.Channel) Identifiers {
	var ids Identifiers
	ids.Add("user ID", u.ID)
	ids.Add("email", u.Email)
	if u.GoogleSub != nil {
		ids.Add("Google subject", *u.GoogleSub)
	}
	for _, ch := range channels {
		ids.Add(ch.Platform+" account ID", ch.ExternalID)
	}
	if u.ID != "" {
		ids.BlobPrefixes = append(ids.BlobPrefixes, "uploads/"+u.ID+"/")
	}
	return ids
}

// Exclusion leaves a column, or a whole table when Column is empty, out of
// a scan: restricted legal records and intentionally anonymous data.
type Exclusion struct {
	Table  string
	Column string
}

// Options adjust a scan.
type Options struct {
	// Exclude lists the tables and columns not searched.
	Exclude []Exclusion
	// ExcludeBlobPrefixes lists blob keys not reported (e.g. a retained
	// export under legal hold).
	ExcludeBlobPrefixes []string
}

// Trace is one place where an identifier was found: a database cell
// (Table, Column, RowKey) or a blob (Blob).
type Trace struct {
	Table  string
	Column string
	// RowKey names the row: the primary key value, "col=value, ..." for a
	// composite key, or "rowid=N" (SQLite) / "ctid=(p,n)" (PostgreSQL)
	// for a table without one.
	RowKey string
	// Value is the start of the cell, redacted: at most four characters
	// followed by "…".
	Value string
	// Identifier is the label of the identifier found, or "blob prefix"
	// for a blob under one of BlobPrefixes.
	Identifier string
	// Blob is the key of a blob that names the person.
	Blob string
	// Match is the identifier's value that was found, for the caller to
	// classify the trace; String never shows it.
	Match string
}

// String describes the trace for a report.
func (t Trace) String() string {
	if t.Blob != "" {
		return fmt.Sprintf("blob %s (%s)", t.Blob, t.Identifier)
	}
	return fmt.Sprintf("%s.%s row %s holds the %s (%q)", t.Table, t.Column, t.RowKey, t.Identifier, t.Value)
}

// Scan searches every text-like column of every table of the current
// schema (text, varchar, char, JSON, UUID, and on SQLite columns without
// a declared type), except schema_migrations and the exclusions, and then
// every key of blobs (when blobs is not nil), for the identifiers. Matching
// is a case-insensitive substring match, so identifiers embedded in JSON
// payloads, captions or URLs are found; each identifier is also looked for
// in its JSON-escaped and URL-escaped forms. It returns the traces sorted
// by table, column, row and identifier, blobs last; none means the person
// left nothing behind outside the exclusions.
func Scan(ctx context.Context, db *gorm.DB, dialect models.Dialect, blobs blob.Store, ids Identifiers, opts Options) ([]Trace, error) {
	terms, err := prepare(ids)
	if err != nil {
		return nil, err
	}
	tables, err := ReadSchema(ctx, db, dialect)
	if err != nil {
		return nil, err
	}
	excludedTable, excludedColumn := map[string]bool{}, map[string]bool{}
	for _, e := range opts.Exclude {
		if e.Column == "" {
			excludedTable[e.Table] = true
		} else {
			excludedColumn[e.Table+"."+e.Column] = true
		}
	}
	var traces []Trace
	for _, t := range tables {
		if len(terms) == 0 || skipped[t.Name] || excludedTable[t.Name] {
			continue
		}
		var cols []Column
		for _, c := range t.Columns {
			if c.Kind.Searchable() && !excludedColumn[t.Name+"."+c.Name] {
				cols = append(cols, c)
			}
		}
		found, err := scanTable(db.WithContext(ctx), dialect, t, cols, terms)
		if err != nil {
			return nil, err
		}
		traces = append(traces, found...)
	}
	sort.SliceStable(traces, func(i, j int) bool {
		a, b := traces[i], traces[j]
		if a.Table != b.Table {
			return a.Table < b.Table
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		if a.RowKey != b.RowKey {
			return a.RowKey < b.RowKey
		}
		return a.Identifier < b.Identifier
	})
	if blobs != nil {
		found, err := scanBlobs(ctx, blobs, ids, terms, opts.ExcludeBlobPrefixes)
		if err != nil {
			return nil, err
		}
		traces = append(traces, found...)
	}
	return traces, nil
}

// maxTerms bounds the LIKE terms of one query, so that a table with many
// columns searched for many identifiers is split into several queries.
const maxTerms = 240

// scanTable searches the columns of one table, a few columns per query.
// Each query selects, for every matching row, its key, the start of each
// searched column and one flag per (column, identifier), so that the
// database alone decides what matched.
func scanTable(db *gorm.DB, dialect models.Dialect, t Table, cols []Column, terms []term) ([]Trace, error) {
	if len(cols) == 0 {
		return nil, nil
	}
	patterns := 0
	for _, tm := range terms {
		patterns += len(tm.patterns)
	}
	perQuery := max(1, maxTerms/patterns)
	keyNames, keyExprs := rowKey(dialect, t)
	var traces []Trace
	for start := 0; start < len(cols); start += perQuery {
		batch := cols[start:min(start+perQuery, len(cols))]
		var (
			selects, wheres []string
			selArgs, whArgs []any
		)
		selects = append(selects, keyExprs...)
		for _, c := range batch {
			expr := textExpr(c)
			selects = append(selects, "substr("+expr+", 1, 5)")
			for _, tm := range terms {
				cond, args := tm.condition(dialect, expr)
				selects = append(selects, "CASE WHEN "+cond+" THEN 1 ELSE 0 END")
				selArgs = append(selArgs, args...)
				wheres = append(wheres, cond)
				whArgs = append(whArgs, args...)
			}
		}
		q := "SELECT " + strings.Join(selects, ", ") + " FROM " + Quote(t.Name) + " WHERE " + strings.Join(wheres, " OR ")
		found, err := collect(db, q, append(selArgs, whArgs...), t.Name, keyNames, batch, terms)
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", t.Name, err)
		}
		traces = append(traces, found...)
	}
	return traces, nil
}

func collect(db *gorm.DB, q string, args []any, table string, keyNames []string, cols []Column, terms []term) ([]Trace, error) {
	rows, err := db.Raw(q, args...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	keys := make([]sql.NullString, len(keyNames))
	values := make([]sql.NullString, len(cols))
	flags := make([]int64, len(cols)*len(terms))
	dest := make([]any, 0, len(keys)+len(values)+len(flags))
	for i := range keys {
		dest = append(dest, &keys[i])
	}
	for ci := range cols {
		dest = append(dest, &values[ci])
		for ti := range terms {
			dest = append(dest, &flags[ci*len(terms)+ti])
		}
	}
	var traces []Trace
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		key := formatKey(keyNames, keys)
		for ci, c := range cols {
			for ti, tm := range terms {
				if flags[ci*len(terms)+ti] == 1 {
					traces = append(traces, Trace{Table: table, Column: c.Name, RowKey: key,
						Value: redact(values[ci].String), Identifier: tm.label, Match: tm.value})
				}
			}
		}
	}
	return traces, rows.Err()
}

// rowKey returns the names and SQL expressions that identify a row.
func rowKey(dialect models.Dialect, t Table) (names, exprs []string) {
	if len(t.PrimaryKey) == 0 {
		if dialect == models.Postgres {
			return []string{"ctid"}, []string{"CAST(ctid AS TEXT)"}
		}
		return []string{"rowid"}, []string{"CAST(rowid AS TEXT)"}
	}
	for _, k := range t.PrimaryKey {
		names = append(names, k)
		exprs = append(exprs, "CAST("+Quote(k)+" AS TEXT)")
	}
	return names, exprs
}

func formatKey(names []string, values []sql.NullString) string {
	if len(names) == 1 && names[0] != "rowid" && names[0] != "ctid" {
		return values[0].String
	}
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + "=" + values[i].String
	}
	return strings.Join(parts, ", ")
}

// redact keeps at most the first four characters of a cell's start (of
// which five are read, to know whether there is more).
func redact(start string) string {
	r := []rune(start)
	switch {
	case len(r) > 4:
		return string(r[:4]) + "…"
	case len(r) > 0:
		return string(r[:1]) + "…"
	}
	return "…"
}

// scanBlobs lists every key once and reports those under a prefix or
// naming an identifier.
func scanBlobs(ctx context.Context, blobs blob.Store, ids Identifiers, terms []term, excluded []string) ([]Trace, error) {
	keys, err := blobs.List(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("scan blobs: %w", err)
	}
	var traces []Trace
	for _, key := range keys {
		if hasAnyPrefix(key, excluded) {
			continue
		}
		if hasAnyPrefix(key, ids.BlobPrefixes) {
			traces = append(traces, Trace{Blob: key, Identifier: "blob prefix"})
			continue
		}
		lower := strings.ToLower(key)
		for _, tm := range terms {
			if tm.inKey(lower) {
				traces = append(traces, Trace{Blob: key, Identifier: tm.label, Match: tm.value})
				break
			}
		}
	}
	return traces, nil
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if p != "" && strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
