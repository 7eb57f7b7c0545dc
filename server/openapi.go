package server

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"sort"

	"github.com/gin-gonic/gin"
)

// openAPIFiles are the OpenAPI 3.1 document in parts: base.json (the
// document's head, the shared components and the service routes) and one
// file of paths per capability, so that a capability describes its routes
// in a file of its own. A test fails when a route and the document
// disagree.
//
//go:embed openapi/*.json
var openAPIFiles embed.FS

// openAPIDocument is the assembled document.
var openAPIDocument = mustAssembleOpenAPI(openAPIFiles)

func mustAssembleOpenAPI(fsys fs.FS) []byte {
	doc, err := assembleOpenAPI(fsys, "openapi")
	if err != nil {
		panic(err)
	}
	return doc
}

// assembleOpenAPI merges dir/base.json with every other dir/*.json: their
// paths, and their components by kind (schemas, responses, ...). A path or
// component defined twice is an error, never a silent override.
func assembleOpenAPI(fsys fs.FS, dir string) ([]byte, error) {
	var doc map[string]any
	if err := readJSON(fsys, path.Join(dir, "base.json"), &doc); err != nil {
		return nil, err
	}
	paths, _ := doc["paths"].(map[string]any)
	if paths == nil {
		paths = map[string]any{}
		doc["paths"] = paths
	}
	components, _ := doc["components"].(map[string]any)
	if components == nil {
		components = map[string]any{}
		doc["components"] = components
	}
	names, err := fs.Glob(fsys, path.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	for _, name := range names {
		if path.Base(name) == "base.json" {
			continue
		}
		var part struct {
			Paths      map[string]any            `json:"paths"`
			Components map[string]map[string]any `json:"components"`
		}
		if err := readJSON(fsys, name, &part); err != nil {
			return nil, err
		}
		for p, v := range part.Paths {
			if _, dup := paths[p]; dup {
				return nil, fmt.Errorf("openapi: %s describes %s again", name, p)
			}
			paths[p] = v
		}
		for kind, entries := range part.Components {
			into, _ := components[kind].(map[string]any)
			if into == nil {
				into = map[string]any{}
				components[kind] = into
			}
			for k, v := range entries {
				if _, dup := into[k]; dup {
					return nil, fmt.Errorf("openapi: %s defines components.%s.%s again", name, kind, k)
				}
				into[k] = v
			}
		}
	}
	return json.MarshalIndent(doc, "", "  ")
}

func readJSON(fsys fs.FS, name string, v any) error {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("openapi: %s: %w", name, err)
	}
	return nil
}

func (s *Server) openAPI(c *gin.Context) {
	c.Data(http.StatusOK, "application/json", openAPIDocument)
}
