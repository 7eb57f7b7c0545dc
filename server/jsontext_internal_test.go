package server

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBadText(t *testing.T) {
	tests := []struct {
		name, body, field, problem string
	}{
		{"clean", `{"caption":"héllo 😀 \ud83d\ude00 \"q\" \\","n":1,"a":["x"]}`, "", ""},
		{"invalid UTF-8", "{\"caption\":\"a\xffb\"}", "caption", "is not valid UTF-8"},
		{"lone high surrogate", `{"caption":"a\ud83d b"}`, "caption", "lone UTF-16 surrogate"},
		{"lone low surrogate", `{"caption":"\ude00"}`, "caption", "lone UTF-16 surrogate"},
		{"high at the end", `{"caption":"\ud83d"}`, "caption", "lone UTF-16 surrogate"},
		{"NUL", `{"name":"ci\u0000"}`, "name", "NUL"},
		{"nested", `{"disclose":{"your_brand":true,"note":"\u0000"}}`, "disclose.note", "NUL"},
		{"in an array", `{"upload_ids":["a","b","\udfff"]}`, "upload_ids[2]", "surrogate"},
		{"in a key", `{"ca\u0000ption":"x"}`, "ca\\u0000ption", "has a name that contains a NUL"},
		{"after an object in an array", `{"a":[{"k":"v"},{"k":"\u0000"}]}`, "a[1].k", "NUL"},
		{"top-level string", `"\u0000"`, "body", "NUL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			field, problem := badText([]byte(tt.body))
			require.Equal(t, tt.field, field)
			if tt.problem == "" {
				require.Empty(t, problem)
			} else {
				require.Contains(t, problem, tt.problem)
			}
		})
	}
}
