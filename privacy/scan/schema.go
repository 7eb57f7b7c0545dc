package scan

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"gorm.io/gorm"

	"github.com/loomcast/loomcast/models"
)

// Kind is what a column holds, the same on every dialect.
type Kind string

// The kinds of column.
const (
	KindText  Kind = "text"
	KindJSON  Kind = "json"
	KindUUID  Kind = "uuid"
	KindBool  Kind = "bool"
	KindInt   Kind = "int"
	KindFloat Kind = "float"
	KindTime  Kind = "time"
	KindBytes Kind = "bytes"
	// KindOther is any other type, and on SQLite a column declared without
	// a type, which may hold anything.
	KindOther Kind = "other"
)

// Searchable reports whether values of the kind can hold an identifier as
// text: text, JSON, UUIDs and anything unrecognised. Numbers, booleans,
// times and binary columns are not searched.
func (k Kind) Searchable() bool {
	switch k {
	case KindText, KindJSON, KindUUID, KindOther:
		return true
	}
	return false
}

// Column is one column of a table.
type Column struct {
	Name string
	// Type is the type as the database declares it (e.g. "TEXT", "jsonb").
	Type string
	Kind Kind
}

// ForeignKey is a reference from Columns of a table to RefColumns of
// RefTable, in matching order.
type ForeignKey struct {
	Columns    []string
	RefTable   string
	RefColumns []string
}

// Table is one base table of the current schema.
type Table struct {
	Name    string
	Columns []Column
	// PrimaryKey lists the primary key's columns in key order; empty for a
	// table without one.
	PrimaryKey  []string
	ForeignKeys []ForeignKey
}

// Column returns the named column.
func (t Table) Column(name string) (Column, bool) {
	for _, c := range t.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}

// validName is what the scan accepts as a table or column name: it quotes
// every name, but refuses anything that would need more than quoting.
var validName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$]*$`)

// Quote quotes a table or column name returned by ReadSchema for SQL.
func Quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// ReadSchema lists the base tables of the database's current schema (views
// excluded) with their columns, primary keys and foreign keys, sorted by
// name. On PostgreSQL it reads information_schema and pg_constraint; on
// SQLite sqlite_master and the table_info and foreign_key_list pragmas. A
// name the scan could not quote safely is an error rather than a table
// silently left out.
func ReadSchema(ctx context.Context, db *gorm.DB, dialect models.Dialect) ([]Table, error) {
	var (
		tables []Table
		err    error
	)
	switch dialect {
	case models.Postgres:
		tables, err = readPostgres(db.WithContext(ctx))
	case models.SQLite:
		tables, err = readSQLite(db.WithContext(ctx))
	default:
		return nil, fmt.Errorf("read schema: unknown dialect %q", dialect)
	}
	if err != nil {
		return nil, err
	}
	for _, t := range tables {
		if !validName.MatchString(t.Name) {
			return nil, fmt.Errorf("read schema: table name %q cannot be scanned", t.Name)
		}
		for _, c := range t.Columns {
			if !validName.MatchString(c.Name) {
				return nil, fmt.Errorf("read schema: column name %s.%q cannot be scanned", t.Name, c.Name)
			}
		}
	}
	sort.Slice(tables, func(i, j int) bool { return tables[i].Name < tables[j].Name })
	return tables, nil
}

func readPostgres(db *gorm.DB) ([]Table, error) {
	var cols []struct {
		TableName, ColumnName, DataType, UdtName string
	}
	err := db.Raw(`SELECT c.table_name, c.column_name, c.data_type, c.udt_name
		FROM information_schema.columns c
		JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
		WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
		ORDER BY c.table_name, c.ordinal_position`).Scan(&cols).Error
	if err != nil {
		return nil, fmt.Errorf("read columns: %w", err)
	}
	byName := map[string]*Table{}
	var order []string
	for _, c := range cols {
		t := byName[c.TableName]
		if t == nil {
			t = &Table{Name: c.TableName}
			byName[c.TableName] = t
			order = append(order, c.TableName)
		}
		typ := c.DataType
		if typ == "USER-DEFINED" || typ == "ARRAY" {
			typ = c.UdtName
		}
		t.Columns = append(t.Columns, Column{Name: c.ColumnName, Type: typ, Kind: postgresKind(c.DataType, c.UdtName)})
	}

	var pks []struct{ TableName, ColumnName string }
	err = db.Raw(`SELECT tc.table_name, kcu.column_name
		FROM information_schema.table_constraints tc
		JOIN information_schema.key_column_usage kcu ON kcu.constraint_schema = tc.constraint_schema
			AND kcu.constraint_name = tc.constraint_name AND kcu.table_name = tc.table_name
		WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = current_schema()
		ORDER BY tc.table_name, kcu.ordinal_position`).Scan(&pks).Error
	if err != nil {
		return nil, fmt.Errorf("read primary keys: %w", err)
	}
	for _, pk := range pks {
		if t := byName[pk.TableName]; t != nil {
			t.PrimaryKey = append(t.PrimaryKey, pk.ColumnName)
		}
	}

	// pg_constraint rather than information_schema: it pairs the columns
	// of a multi-column key reliably and is not fooled by constraint names
	// repeated across tables.
	var fks []struct{ TableName, ConName, ColumnName, RefTable, RefColumn string }
	err = db.Raw(`SELECT cl.relname AS table_name, c.conname AS con_name, a.attname AS column_name,
			rcl.relname AS ref_table, ra.attname AS ref_column
		FROM pg_constraint c
		JOIN pg_class cl ON cl.oid = c.conrelid
		JOIN pg_namespace n ON n.oid = cl.relnamespace
		JOIN pg_class rcl ON rcl.oid = c.confrelid
		CROSS JOIN LATERAL unnest(c.conkey, c.confkey) WITH ORDINALITY AS k(attnum, refattnum, ord)
		JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
		JOIN pg_attribute ra ON ra.attrelid = c.confrelid AND ra.attnum = k.refattnum
		WHERE c.contype = 'f' AND n.nspname = current_schema()
		ORDER BY cl.relname, c.conname, k.ord`).Scan(&fks).Error
	if err != nil {
		return nil, fmt.Errorf("read foreign keys: %w", err)
	}
	lastKey := ""
	for _, fk := range fks {
		t := byName[fk.TableName]
		if t == nil {
			continue
		}
		if key := fk.TableName + "\x00" + fk.ConName; key != lastKey {
			lastKey = key
			t.ForeignKeys = append(t.ForeignKeys, ForeignKey{RefTable: fk.RefTable})
		}
		last := &t.ForeignKeys[len(t.ForeignKeys)-1]
		last.Columns = append(last.Columns, fk.ColumnName)
		last.RefColumns = append(last.RefColumns, fk.RefColumn)
	}

	out := make([]Table, 0, len(order))
	for _, name := range order {
		out = append(out, *byName[name])
	}
	return out, nil
}

func postgresKind(dataType, udt string) Kind {
	switch dataType {
	case "text", "character varying", "character", "name":
		return KindText
	case "json", "jsonb":
		return KindJSON
	case "uuid":
		return KindUUID
	case "boolean":
		return KindBool
	case "smallint", "integer", "bigint":
		return KindInt
	case "real", "double precision", "numeric":
		return KindFloat
	case "bytea":
		return KindBytes
	case "date", "timestamp with time zone", "timestamp without time zone", "time with time zone", "time without time zone":
		return KindTime
	case "USER-DEFINED":
		if udt == "citext" {
			return KindText
		}
	}
	return KindOther
}

func readSQLite(db *gorm.DB) ([]Table, error) {
	var names []string
	err := db.Raw(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`).
		Scan(&names).Error
	if err != nil {
		return nil, fmt.Errorf("read tables: %w", err)
	}
	out := make([]Table, 0, len(names))
	for _, name := range names {
		t := Table{Name: name}
		var cols []struct {
			Name string
			Type string
			PK   int
		}
		if err := db.Raw(`SELECT name, type, pk FROM pragma_table_info(?) ORDER BY cid`, name).Scan(&cols).Error; err != nil {
			return nil, fmt.Errorf("read columns of %s: %w", name, err)
		}
		var pk []struct {
			Name string
			PK   int
		}
		for _, c := range cols {
			t.Columns = append(t.Columns, Column{Name: c.Name, Type: c.Type, Kind: sqliteKind(c.Type)})
			if c.PK > 0 {
				pk = append(pk, struct {
					Name string
					PK   int
				}{c.Name, c.PK})
			}
		}
		sort.Slice(pk, func(i, j int) bool { return pk[i].PK < pk[j].PK })
		for _, c := range pk {
			t.PrimaryKey = append(t.PrimaryKey, c.Name)
		}
		out = append(out, t)
	}
	byName := map[string]*Table{}
	for i := range out {
		byName[out[i].Name] = &out[i]
	}
	for i := range out {
		t := &out[i]
		var fks []struct {
			ID    int
			Seq   int
			Table string
			From  string
			To    *string
		}
		err := db.Raw(`SELECT id, seq, "table", "from", "to" FROM pragma_foreign_key_list(?) ORDER BY id, seq`, t.Name).Scan(&fks).Error
		if err != nil {
			return nil, fmt.Errorf("read foreign keys of %s: %w", t.Name, err)
		}
		lastID := -1
		for _, fk := range fks {
			if fk.ID != lastID {
				lastID = fk.ID
				t.ForeignKeys = append(t.ForeignKeys, ForeignKey{RefTable: fk.Table})
			}
			last := &t.ForeignKeys[len(t.ForeignKeys)-1]
			last.Columns = append(last.Columns, fk.From)
			ref := ""
			if fk.To != nil {
				ref = *fk.To
			} else if parent := byName[fk.Table]; parent != nil && fk.Seq < len(parent.PrimaryKey) {
				// REFERENCES parent without columns means its primary key.
				ref = parent.PrimaryKey[fk.Seq]
			}
			last.RefColumns = append(last.RefColumns, ref)
		}
	}
	return out, nil
}

// sqliteKind follows SQLite's rules for a declared type's affinity, with
// the names Loomcast's migrations use for booleans and times first.
func sqliteKind(declared string) Kind {
	t := strings.ToUpper(declared)
	has := func(s string) bool { return strings.Contains(t, s) }
	switch {
	case t == "":
		return KindOther
	case has("BOOL"):
		return KindBool
	case has("JSON"):
		return KindJSON
	case has("UUID"):
		return KindUUID
	case has("DATE"), has("TIME"):
		return KindTime
	case has("INT"):
		return KindInt
	case has("CHAR"), has("CLOB"), has("TEXT"):
		return KindText
	case has("BLOB"):
		return KindBytes
	case has("REAL"), has("FLOA"), has("DOUB"), has("NUMERIC"), has("DECIMAL"):
		return KindFloat
	}
	return KindOther
}
