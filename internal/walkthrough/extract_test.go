package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestShellBlocks(t *testing.T) {
	tests := []struct {
		name    string
		md      string
		want    []string
		wantErr string
	}{
		{
			name: "the sh blocks of the section, in order, and nothing else",
			md: "# Title\n```sh\nmake run\n```\n## Walkthrough with curl\ntext\n```sh\na=1\n# a comment, not a heading\n```\n" +
				"```json\n{}\n```\n### A subsection stays inside\n```sh\necho $a\n```\n## Next\n```sh\nnot this\n```\n",
			want: []string{"a=1\n# a comment, not a heading\n", "echo $a\n"},
		},
		{
			name: "several sections with the title",
			md:   "## Walkthrough with curl\n```sh\none\n```\n## Other\n```sh\nx\n```\n## Walkthrough with curl, part 2\n~~~sh\ntwo\n~~~\n",
			want: []string{"one\n", "two\n"},
		},
		{
			name: "a longer fence holds a shorter one",
			md:   "## Walkthrough with curl\n````sh\ncat <<'X'\n```\nX\n````\n",
			want: []string{"cat <<'X'\n```\nX\n"},
		},
		{name: "no section", md: "## Other\n```sh\nx\n```\n", wantErr: "no section"},
		{name: "no block", md: "## Walkthrough with curl\ntext only\n", wantErr: "has no ```sh block"},
		{name: "an unclosed block", md: "## Walkthrough with curl\n```sh\nx\n", wantErr: "never closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := shellBlocks(tt.md, section)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

// TestReadmeWalkthrough checks, without running it, that the README's
// walkthrough is there and is valid bash; make walkthrough runs it.
func TestReadmeWalkthrough(t *testing.T) {
	md, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	blocks, err := shellBlocks(string(md), section)
	require.NoError(t, err)
	script := strings.Join(blocks, "\n")
	for _, want := range []string{"$api", "$token", "$post", "sample-video"} {
		require.Contains(t, script, want, "the runner's final check and the video rely on it")
	}
	if _, err := exec.LookPath("bash"); err == nil {
		out, err := exec.Command("bash", "-n", "-c", script).CombinedOutput()
		require.NoError(t, err, "bash -n: %s", out)
	}
}
