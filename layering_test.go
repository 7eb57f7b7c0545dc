package loomcast_test

import (
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// module is this repository's module path.
const module = "github.com/loomcast/loomcast"

// leaves are the internal packages that do no I/O and import nothing
// internal: the shared vocabulary, the policy tables and the legal
// calendar. Workflow contracts may use them.
var leaves = []string{".", "retention", "privacy/calendar"}

// clients are the adapters named after an external technology. They know
// nothing of Loomcast's layers: activities use them, never the reverse.
var clients = []string{"tiktok", "youtube", "google", "blob", "mail", "vault", "media", "password"}

// graph maps each internal package (its directory relative to the module
// root, "." for the root) to the internal packages its non-test files
// import.
type graph map[string][]string

// readGraph parses the imports of every non-test Go file under root (no
// build, no type checking).
func readGraph(t *testing.T, root string) graph {
	t.Helper()
	g := graph{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "data" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		dir, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		dir = filepath.ToSlash(dir)
		if _, ok := g[dir]; !ok {
			g[dir] = nil
		}
		for _, imp := range f.Imports {
			p, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				return err
			}
			if p == module {
				p = "."
			} else if rest, ok := strings.CutPrefix(p, module+"/"); ok {
				p = rest
			} else {
				continue
			}
			if !slices.Contains(g[dir], p) {
				g[dir] = append(g[dir], p)
			}
		}
		return nil
	})
	require.NoError(t, err)
	return g
}

// under says whether pkg is dir or inside it.
func under(pkg, dir string) bool { return pkg == dir || strings.HasPrefix(pkg, dir+"/") }

// capability is the capability folder of a workflows/ or activities/
// package: "posting" for activities/posting/x.
func capability(pkg string) string {
	parts := strings.Split(pkg, "/")
	if len(parts) < 2 {
		return ""
	}
	return parts[1]
}

// violations lists every import of g that breaks a layering rule of
// docs/architecture.md, one sentence each, sorted.
func violations(g graph) []string {
	var out []string
	bad := func(from, to, rule string) { out = append(out, fmt.Sprintf("%s imports %s: %s", from, to, rule)) }
	for from, imports := range g {
		for _, to := range imports {
			switch {
			case under(from, "models") && !under(to, "models") && to != ".":
				bad(from, to, "models imports nothing internal but the shared vocabulary")
			case slices.Contains(leaves, from):
				bad(from, to, "a leaf package imports nothing internal")
			case under(from, "workflows") && !under(to, "workflows") && !slices.Contains(leaves, to):
				bad(from, to, "workflows import only other workflow contracts and leaf packages")
			case under(to, "activities") && !under(from, "activities") && !under(from, "worker") && !under(from, "cmd"):
				bad(from, to, "only worker and cmd import activities")
			case under(from, "activities") && under(to, "activities") && capability(from) != capability(to):
				bad(from, to, "an activities package never imports another capability's activities")
			case under(to, "server") && !under(from, "server") && !under(from, "cmd") && !under(from, "bench"):
				bad(from, to, "only cmd (and benchmarks) import the API")
			case under(to, "cmd"):
				bad(from, to, "nothing imports the binary")
			case slices.ContainsFunc(clients, func(c string) bool { return under(from, c) }) &&
				(under(to, "workflows") || under(to, "activities") || under(to, "server") || under(to, "worker") || under(to, "models")):
				bad(from, to, "a platform client knows nothing of Loomcast's layers")
			}
		}
	}
	sort.Strings(out)
	return out
}

// TestLayering holds the layering rules of docs/architecture.md over the
// repository's imports.
func TestLayering(t *testing.T) {
	wd, err := os.Getwd()
	require.NoError(t, err)
	g := readGraph(t, wd)
	require.Contains(t, g, "workflows/posting", "the walk found the workflow packages")
	require.Contains(t, g, "server", "the walk found the API")
	require.Empty(t, violations(g), "layering rules are broken")
}

// TestLayeringRulesCatch shows that each rule fails on the crossing it
// forbids, so that TestLayering cannot pass by accident.
func TestLayeringRulesCatch(t *testing.T) {
	tests := []struct {
		name string
		from string
		to   string
		want string
	}{
		{"models importing a contract", "models", "workflows/posting", "models imports nothing internal"},
		{"a leaf importing models", "retention", "models", "a leaf package"},
		{"a workflow importing a platform client", "workflows/posting", "tiktok", "workflows import only"},
		{"a workflow importing models", "workflows/privacy", "models", "workflows import only"},
		{"the API importing activities", "server", "activities/privacy", "only worker and cmd"},
		{"a store helper importing activities", "retention/scheduler", "activities/expiry", "only worker and cmd"},
		{"activities of one capability importing another's", "activities/posting", "activities/channels", "another capability's"},
		{"a client importing the store", "grants", "server", "only cmd"},
		{"a platform client importing models", "tiktok", "models", "platform client"},
		{"anything importing cmd", "worker", "cmd/loomcast", "nothing imports the binary"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := violations(graph{tt.from: {tt.to}})
			require.Len(t, got, 1)
			require.Contains(t, got[0], tt.want)
		})
	}
	t.Run("allowed imports pass", func(t *testing.T) {
		got := violations(graph{
			"models":              {"."},
			"workflows/posting":   {"workflows/webhooks", "retention", "."},
			"activities/posting":  {"workflows/posting", "models", "tiktok", "activities/posting/internal"},
			"worker":              {"activities/posting", "workflows/posting"},
			"cmd/loomcast":        {"server", "activities/expiry"},
			"server":              {"workflows/posting", "models", "server/servertest"},
			"retention/scheduler": {"models", "workflows/expiry"},
		})
		require.Empty(t, got)
	})
}
