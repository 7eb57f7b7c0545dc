package server

import (
	"encoding/json"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"
)

func TestAssembleOpenAPI(t *testing.T) {
	base := `{"openapi":"3.1.0","paths":{"/healthz":{"get":{}}},"components":{"schemas":{"Problem":{}}}}`
	tests := []struct {
		name    string
		part    string
		wantErr string
	}{
		{"a capability adds its paths and schemas", `{"paths":{"/v1/widgets":{"get":{}}},"components":{"schemas":{"Widget":{}}}}`, ""},
		{"a path twice is refused", `{"paths":{"/healthz":{"post":{}}}}`, "describes /healthz again"},
		{"a schema twice is refused", `{"components":{"schemas":{"Problem":{}}}}`, "components.schemas.Problem again"},
		{"broken JSON names its file", `{"paths":`, "openapi/widgets.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{
				"openapi/base.json":    {Data: []byte(base)},
				"openapi/widgets.json": {Data: []byte(tt.part)},
			}
			got, err := assembleOpenAPI(fsys, "openapi")
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			var doc struct {
				Paths      map[string]any            `json:"paths"`
				Components map[string]map[string]any `json:"components"`
			}
			require.NoError(t, json.Unmarshal(got, &doc))
			require.Contains(t, doc.Paths, "/healthz")
			require.Contains(t, doc.Paths, "/v1/widgets")
			require.Contains(t, doc.Components["schemas"], "Problem")
			require.Contains(t, doc.Components["schemas"], "Widget")
		})
	}
}
