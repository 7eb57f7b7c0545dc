package export

import (
	"sort"
	"strings"

	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/privacy/scan"
)

// usersTable is the table of accounts, the root of everything a person owns.
const usersTable = "users"

// maxDepth bounds how far ownership is followed through foreign keys.
const maxDepth = 6

// source is where one data file's rows come from: the rows of table that
// match where (with args for its ? placeholders).
type source struct {
	table scan.Table
	where string
	args  []any
	// mention is true for a table not linked to the account, whose rows
	// are exported because they hold one of the person's identifiers.
	mention bool
}

// plan finds, from the schema alone, the tables that hold the person's
// rows and how to select them:
//   - users: the row whose id is the person's;
//   - any table with a user_id column or a foreign key to users: the rows
//     that name the person there;
//   - any other table with a foreign key to one of those, followed
//     recursively (post_events through posts): the rows whose key points
//     at one of the person's rows;
//   - every remaining table except the skipped ones: the rows in which a
//     text-like column holds one of ids (webhook deliveries naming the
//     person's TikTok account).
//
// A table that names its owner directly is not followed further, so that
// rows owned by someone else (another user's comment on the person's
// post) are never exported. The users table comes first, then by name.
func plan(tables []scan.Table, dialect models.Dialect, userID string, ids scan.Identifiers) ([]source, error) {
	p := planner{byName: map[string]scan.Table{}, userID: userID}
	for _, t := range tables {
		p.byName[t.Name] = t
	}
	var out []source
	for _, t := range tables {
		if skipped[t.Name] {
			continue
		}
		where, args := p.owned(t.Name, map[string]bool{}, 0)
		if where != "" {
			out = append(out, source{table: t, where: where, args: args})
			continue
		}
		where, args, err := scan.Mentions(dialect, t, ids)
		if err != nil {
			return nil, err
		}
		if where != "" {
			out = append(out, source{table: t, where: where, args: args, mention: true})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].table.Name, out[j].table.Name
		if (a == usersTable) != (b == usersTable) {
			return a == usersTable
		}
		return a < b
	})
	return out, nil
}

// skipped tables hold nobody's personal data.
var skipped = map[string]bool{"schema_migrations": true}

type planner struct {
	byName map[string]scan.Table
	userID string
}

// owned returns the condition that a row of table belongs to the person,
// or "" when nothing links the table to an account. path holds the tables
// already on the way, so that cycles end.
func (p planner) owned(table string, path map[string]bool, depth int) (string, []any) {
	t, ok := p.byName[table]
	if !ok {
		return "", nil
	}
	if table == usersTable {
		return scan.Quote("id") + " = ?", []any{p.userID}
	}
	var (
		parts []string
		args  []any
	)
	_, direct := t.Column("user_id")
	if direct {
		parts = append(parts, scan.Quote("user_id")+" = ?")
		args = append(args, p.userID)
	}
	for _, fk := range t.ForeignKeys {
		if fk.RefTable != usersTable {
			continue
		}
		if direct && len(fk.Columns) == 1 && fk.Columns[0] == "user_id" && fk.RefColumns[0] == "id" {
			continue // the same as the user_id test above
		}
		if cond, a := p.reference(fk, usersTable, path, depth); cond != "" {
			parts = append(parts, cond)
			args = append(args, a...)
		}
	}
	if len(parts) > 0 || depth >= maxDepth {
		return strings.Join(parts, " OR "), args
	}
	path[table] = true
	defer delete(path, table)
	for _, fk := range t.ForeignKeys {
		if path[fk.RefTable] || fk.RefTable == table {
			continue
		}
		cond, a := p.reference(fk, fk.RefTable, path, depth)
		if cond != "" {
			parts = append(parts, cond)
			args = append(args, a...)
		}
	}
	return strings.Join(parts, " OR "), args
}

// reference is the condition that fk points at one of the person's rows
// of ref.
func (p planner) reference(fk scan.ForeignKey, ref string, path map[string]bool, depth int) (string, []any) {
	for _, c := range fk.RefColumns {
		if c == "" {
			return "", nil
		}
	}
	cond, args := p.owned(ref, path, depth+1)
	if cond == "" {
		return "", nil
	}
	return columnList(fk.Columns) + " IN (SELECT " + strings.Join(quoteAll(fk.RefColumns), ", ") +
		" FROM " + scan.Quote(ref) + " WHERE " + cond + ")", args
}

func columnList(cols []string) string {
	if len(cols) == 1 {
		return scan.Quote(cols[0])
	}
	return "(" + strings.Join(quoteAll(cols), ", ") + ")"
}

func quoteAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = scan.Quote(n)
	}
	return out
}
