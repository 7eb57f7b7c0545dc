package worker_test

import (
	"os"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/loomcast/loomcast/internal/contractscan"
	"github.com/loomcast/loomcast/worker"
)

// recorder notes the names that Register gives each workflow and activity,
// the way the SDK derives them: a function's name, an activity struct's
// exported method names.
type recorder struct {
	sdkworker.Registry
	workflows, activities map[string]bool
}

func funcName(fn any) string {
	name := runtime.FuncForPC(reflect.ValueOf(fn).Pointer()).Name()
	return name[strings.LastIndex(name, ".")+1:]
}

func (r *recorder) RegisterWorkflow(fn any) { r.workflows[funcName(fn)] = true }

func (r *recorder) RegisterWorkflowWithOptions(fn any, o workflow.RegisterOptions) {
	r.workflows[o.Name] = true
}

func (r *recorder) RegisterActivity(a any) {
	v := reflect.ValueOf(a)
	if v.Kind() == reflect.Func {
		r.activities[funcName(a)] = true
		return
	}
	for i := 0; i < v.Type().NumMethod(); i++ {
		r.activities[v.Type().Method(i).Name] = true
	}
}

func (r *recorder) RegisterActivityWithOptions(a any, o activity.RegisterOptions) {
	r.activities[o.Name] = true
}

// contractNames reads the string constants of the workflow contracts whose
// names end with one of the suffixes: the names workflows use to call
// activities and children.
func contractNames(t *testing.T, suffixes ...string) map[string]string {
	t.Helper()
	consts, err := contractscan.StringConstants("../workflows", func(name string) bool {
		return slices.ContainsFunc(suffixes, func(s string) bool { return strings.HasSuffix(name, s) })
	})
	require.NoError(t, err)
	out := map[string]string{}
	for _, c := range consts {
		out[c.Name] = c.Value
	}
	return out
}

// TestRegisteredNames checks that every name a workflow calls, and every
// workflow type of a recorded history, is registered under exactly that
// name.
func TestRegisteredNames(t *testing.T) {
	r := &recorder{workflows: map[string]bool{}, activities: map[string]bool{}}
	worker.Register(r, worker.Deps{})

	t.Run("activities the workflows call", func(t *testing.T) {
		names := contractNames(t, "Activity", "Act")
		require.GreaterOrEqual(t, len(names), 15)
		for constant, name := range names {
			require.True(t, r.activities[name], "%s = %q is called by a workflow but not registered", constant, name)
		}
	})
	t.Run("workflows the contracts name", func(t *testing.T) {
		names := contractNames(t, "WorkflowName", "ExpiryWorkflow")
		require.NotEmpty(t, names)
		for constant, name := range names {
			require.True(t, r.workflows[name], "%s = %q is not registered", constant, name)
		}
	})
	t.Run("every workflow function of the contracts", func(t *testing.T) {
		fns, err := contractscan.WorkflowFuncs("../workflows")
		require.NoError(t, err)
		require.GreaterOrEqual(t, len(fns), 8)
		for _, fn := range fns {
			require.True(t, r.workflows[fn], "workflow %s is not registered", fn)
		}
	})
	t.Run("workflow types of the recorded histories", func(t *testing.T) {
		files, err := os.ReadDir("../workflows/testdata")
		require.NoError(t, err)
		require.NotEmpty(t, files)
		for _, f := range files {
			typ, _, ok := strings.Cut(f.Name(), "-")
			require.True(t, ok, f.Name())
			require.True(t, r.workflows[typ], "history %s is of type %s, which is not registered", f.Name(), typ)
		}
	})
}
