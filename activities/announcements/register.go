package announcements

import (
	"go.temporal.io/sdk/worker"

	wf "github.com/loomcast/loomcast/workflows/announcements"
)

// Register adds the capability's workflow and activities to r, each under
// its Go name: the workflow under its function's name, an activity under
// its method's name on Activities. Rename a registered Go identifier only
// with its old name kept, or recorded histories stop replaying.
func Register(r worker.Registry, a *Activities) {
	r.RegisterWorkflow(wf.SendAnnouncement)
	r.RegisterActivity(a)
}
