package export

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/loomcast/loomcast/privacy/scan"
)

// writeRow writes sep and one record as an indented JSON object whose
// fields follow the columns' order.
func writeRow(w io.Writer, sep string, cols []scan.Column, vals []any) error {
	var obj bytes.Buffer
	enc := json.NewEncoder(&obj)
	enc.SetEscapeHTML(false)
	obj.WriteByte('{')
	for i, c := range cols {
		if i > 0 {
			obj.WriteByte(',')
		}
		if err := enc.Encode(c.Name); err != nil {
			return err
		}
		obj.WriteByte(':')
		if err := enc.Encode(jsonValue(c, vals[i])); err != nil {
			return fmt.Errorf("column %s: %w", c.Name, err)
		}
	}
	obj.WriteByte('}')
	var out bytes.Buffer
	out.WriteString(sep + "  ")
	if err := json.Indent(&out, obj.Bytes(), "  ", "  "); err != nil {
		return err
	}
	_, err := w.Write(out.Bytes())
	return err
}

// timeLayouts are the forms in which SQLite may hand back a time stored
// as text.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999-07:00",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02",
}

// jsonValue turns a value as the driver returns it into the same JSON on
// every dialect: times as RFC 3339 in UTC, booleans as true/false (SQLite
// stores them as 0 and 1), JSON columns embedded as JSON, text as text
// and binary data as base64.
func jsonValue(c scan.Column, v any) any {
	if b, ok := v.([]byte); ok {
		if c.Kind == scan.KindBytes {
			return b
		}
		v = string(b)
	}
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case int64:
		if c.Kind == scan.KindBool {
			return x != 0
		}
	case string:
		switch c.Kind {
		case scan.KindJSON:
			if json.Valid([]byte(x)) {
				return json.RawMessage(x)
			}
		case scan.KindTime:
			for _, layout := range timeLayouts {
				if t, err := time.Parse(layout, x); err == nil {
					return t.UTC().Format(time.RFC3339Nano)
				}
			}
		case scan.KindBool:
			if b, err := strconv.ParseBool(x); err == nil {
				return b
			}
		}
	}
	return v
}
