// Command recordhistories writes the history of every workflow on a
// Temporal server (by default the one `make run` embeds) as JSON files, one
// per workflow type and kind of run, for the replay tests in workflows/.
// Record after running the flows you want covered; commit the files.
// Files already there are never overwritten: new ones get the next number.
//
//	go run ./internal/recordhistories -out workflows/testdata
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/encoding/protojson"
)

func main() {
	addr := flag.String("address", "127.0.0.1:7233", "Temporal frontend")
	out := flag.String("out", "workflows/testdata", "directory for the JSON files")
	rescrub := flag.Bool("scrub", false, "only scrub the histories already in -out of secret-looking values")
	flag.Parse()
	do := func() error { return run(context.Background(), *addr, *out) }
	if *rescrub {
		do = func() error { return scrubDir(*out) }
	}
	if err := do(); err != nil {
		fmt.Fprintln(os.Stderr, "recordhistories:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, addr, out string) error {
	c, err := client.Dial(client.Options{HostPort: addr})
	if err != nil {
		return err
	}
	defer c.Close()
	resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{PageSize: 1000})
	if err != nil {
		return err
	}
	seen := map[string]int{}
	for _, e := range resp.GetExecutions() {
		typ := e.GetType().GetName()
		status := strings.ToLower(strings.TrimPrefix(e.GetStatus().String(), "WORKFLOW_EXECUTION_STATUS_"))
		key := typ + "-" + status
		seen[key]++
		if seen[key] > 3 {
			continue // three of each are plenty
		}
		iter := c.GetWorkflowHistory(ctx, e.GetExecution().GetWorkflowId(), e.GetExecution().GetRunId(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		var h historypb.History
		for iter.HasNext() {
			ev, err := iter.Next()
			if err != nil {
				return err
			}
			h.Events = append(h.Events, ev)
		}
		data, err := protojson.MarshalOptions{Indent: "  "}.Marshal(&h)
		if err != nil {
			return err
		}
		data, _ = scrub(data)
		// Histories recorded before are kept: they are what proves that
		// older runs still replay. A new one takes the next free number.
		name := nextFree(out, key)
		if err := os.WriteFile(name, data, 0o644); err != nil {
			return err
		}
		fmt.Println("wrote", name, len(h.Events), "events")
	}
	return nil
}

// nextFree is the first out/<key>-<n>.json that does not exist yet.
func nextFree(out, key string) string {
	for n := 1; ; n++ {
		name := filepath.Join(out, fmt.Sprintf("%s-%d.json", key, n))
		if _, err := os.Stat(name); errors.Is(err, fs.ErrNotExist) {
			return name
		}
	}
}

// scrubDir scrubs the histories already recorded in dir.
func scrubDir(dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return err
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		clean, n := scrub(data)
		if n == 0 {
			continue
		}
		if err := os.WriteFile(f, clean, 0o644); err != nil {
			return err
		}
		fmt.Println("scrubbed", f, n, "payloads")
	}
	return nil
}
