package server_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/server/servertest"
)

// TestOpenAPIMatchesRoutes fails when a route exists that the document
// lacks, or the document describes a route that does not exist.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{})
	r := env.Client().Do(http.MethodGet, "/openapi.json", nil)
	require.Equal(t, http.StatusOK, r.Status)

	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}
	r.JSON(t, &doc)
	require.Equal(t, "3.1.0", doc.OpenAPI)

	var documented []string
	for path, ops := range doc.Paths {
		for method, op := range ops {
			if method == "parameters" {
				continue
			}
			documented = append(documented, strings.ToUpper(method)+" "+path)
			require.NotEmpty(t, op["operationId"], "%s %s has no operationId", method, path)
			require.NotEmpty(t, op["responses"], "%s %s has no responses", method, path)
		}
	}

	param := regexp.MustCompile(`:([A-Za-z_]+)`)
	var routed []string
	for _, rt := range env.Routes() {
		if strings.HasPrefix(rt.Path, "/sandbox/") {
			continue // development-only stand-in for Google, not part of the API
		}
		routed = append(routed, rt.Method+" "+param.ReplaceAllString(rt.Path, "{$1}"))
	}
	require.NotEmpty(t, routed)
	sort.Strings(documented)
	sort.Strings(routed)
	require.Equal(t, routed, documented)
}

func TestOpenAPIIsValidJSONWithComponents(t *testing.T) {
	env := servertest.New(t, models.SQLite, servertest.Options{})
	r := env.Client().Do(http.MethodGet, "/openapi.json", nil)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &doc))
	components, ok := doc["components"].(map[string]any)
	require.True(t, ok)
	schemas, ok := components["schemas"].(map[string]any)
	require.True(t, ok)
	require.Contains(t, schemas, "Problem")
}
