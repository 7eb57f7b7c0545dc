package export

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/models/modelstest"
	"github.com/loomcast/loomcast/privacy/scan"
	"github.com/loomcast/loomcast/retention"
)

// TestEveryUserDataColumnIsDescribed keeps the README complete: a
// migration that adds a table holding user data, or a column to one, must
// describe it in descriptions (or name it a secret).
func TestEveryUserDataColumnIsDescribed(t *testing.T) {
	modelstest.ForEach(t, func(t *testing.T, store *models.Store) {
		tables, documented := userDataTables(t, store)
		for _, tb := range tables {
			if !documented[tb.Name] {
				continue
			}
			t.Run(tb.Name, func(t *testing.T) {
				require.NotEmpty(t, descriptions[tb.Name], "describe what the table %s holds in export.descriptions", tb.Name)
				for _, c := range tb.Columns {
					if withheld(tb.Name, c.Name) != "" {
						require.Empty(t, descriptions[tb.Name+"."+c.Name], "%s.%s is withheld: its description would never show", tb.Name, c.Name)
						continue
					}
					require.NotEmpty(t, descriptions[tb.Name+"."+c.Name],
						"describe %s.%s in export.descriptions, in plain language, for the person who reads their export", tb.Name, c.Name)
				}
			})
		}

		t.Run("no description is left over from a column that is gone", func(t *testing.T) {
			byName := map[string]scan.Table{}
			for _, tb := range tables {
				byName[tb.Name] = tb
			}
			for key := range descriptions {
				table, column, isColumn := strings.Cut(key, ".")
				tb, ok := byName[table]
				require.True(t, ok, "descriptions has %q but there is no table %s", key, table)
				if isColumn {
					_, ok := tb.Column(column)
					require.True(t, ok, "descriptions has %q but %s has no column %s", key, table, column)
				}
			}
		})
	})
}

// userDataTables reads the schema and names the tables that hold a
// person's data: those the export plan finds, and those described.
func userDataTables(t *testing.T, store *models.Store) ([]scan.Table, map[string]bool) {
	t.Helper()
	tables, err := scan.ReadSchema(context.Background(), store.DB(), store.Dialect())
	require.NoError(t, err)
	sources, err := plan(tables, store.Dialect(), "someone", scan.Identifiers{})
	require.NoError(t, err)
	documented := map[string]bool{}
	for _, s := range sources {
		documented[s.table.Name] = true
	}
	require.True(t, documented["users"] && documented["post_events"], "the plan finds the users table and its children: %v", documented)
	for _, tb := range tables {
		if descriptions[tb.Name] != "" {
			documented[tb.Name] = true
		}
	}
	return tables, documented
}

// TestEveryUserDataTableHasACategory keeps the data map complete: every
// table holding a person's data belongs to a category of personal
// information (retention.DataMap), so that the right-to-know document
// accounts for it, and the map names only tables that exist.
func TestEveryUserDataTableHasACategory(t *testing.T) {
	modelstest.ForEach(t, func(t *testing.T, store *models.Store) {
		tables, documented := userDataTables(t, store)
		inMap := map[string]bool{}
		for _, c := range retention.DataMap {
			for _, tb := range c.Tables {
				inMap[tb] = true
			}
		}
		exists := map[string]bool{}
		for _, tb := range tables {
			exists[tb.Name] = true
			if documented[tb.Name] {
				require.True(t, inMap[tb.Name], "the table %s holds personal data: name it in the Tables of a category of retention.DataMap", tb.Name)
			}
		}
		for tb := range inMap {
			require.True(t, exists[tb], "retention.DataMap names the table %s, which does not exist", tb)
		}
	})
}

func TestPlanFollowsForeignKeys(t *testing.T) {
	tables := []scan.Table{
		{Name: "users", Columns: []scan.Column{{Name: "id"}}},
		{Name: "posts", Columns: []scan.Column{{Name: "id"}, {Name: "user_id"}, {Name: "channel_id"}},
			ForeignKeys: []scan.ForeignKey{{Columns: []string{"user_id"}, RefTable: "users", RefColumns: []string{"id"}},
				{Columns: []string{"channel_id"}, RefTable: "channels", RefColumns: []string{"id"}}}},
		{Name: "channels", Columns: []scan.Column{{Name: "id"}, {Name: "user_id"}}},
		{Name: "comments", Columns: []scan.Column{{Name: "id"}, {Name: "post_id"}, {Name: "parent_id"}},
			ForeignKeys: []scan.ForeignKey{{Columns: []string{"post_id"}, RefTable: "posts", RefColumns: []string{"id"}},
				{Columns: []string{"parent_id"}, RefTable: "comments", RefColumns: []string{"id"}}}},
		{Name: "likes", Columns: []scan.Column{{Name: "post_id"}, {Name: "owner"}},
			ForeignKeys: []scan.ForeignKey{{Columns: []string{"post_id"}, RefTable: "posts", RefColumns: []string{"id"}},
				{Columns: []string{"owner"}, RefTable: "users", RefColumns: []string{"id"}}}},
		{Name: "reactions", Columns: []scan.Column{{Name: "post_id"}, {Name: "comment_id"}},
			ForeignKeys: []scan.ForeignKey{{Columns: []string{"post_id", "comment_id"}, RefTable: "comments", RefColumns: []string{"post_id", "id"}}}},
		{Name: "prices", Columns: []scan.Column{{Name: "id", Kind: scan.KindInt}}},
		{Name: "schema_migrations", Columns: []scan.Column{{Name: "name", Kind: scan.KindText}}},
	}
	sources, err := plan(tables, models.SQLite, "u1", scan.Identifiers{Values: []scan.Identifier{{Label: "email", Value: "a@example.com"}}})
	require.NoError(t, err)
	got := map[string]string{}
	var order []string
	for _, s := range sources {
		got[s.table.Name] = s.where
		order = append(order, s.table.Name)
		require.Equal(t, strings.Count(s.where, "?"), len(s.args), s.table.Name)
	}
	tests := []struct{ table, want string }{
		{"users", `"id" = ?`},
		{"channels", `"user_id" = ?`},
		// A table naming its owner is not followed further: the user's
		// own rows only, never another user's post on the user's channel.
		{"posts", `"user_id" = ?`},
		{"comments", `"post_id" IN (SELECT "id" FROM "posts" WHERE "user_id" = ?)`},
		{"likes", `"owner" IN (SELECT "id" FROM "users" WHERE "id" = ?)`},
		{"reactions", `("post_id", "comment_id") IN (SELECT "post_id", "id" FROM "comments" WHERE "post_id" IN (SELECT "id" FROM "posts" WHERE "user_id" = ?))`},
	}
	for _, tt := range tests {
		t.Run(tt.table, func(t *testing.T) {
			require.Equal(t, tt.want, got[tt.table])
		})
	}
	require.Equal(t, []string{"users", "channels", "comments", "likes", "posts", "reactions"}, order, "users first, then by name; prices has nothing searchable, schema_migrations is skipped")
}
