package main

import (
	"fmt"
	"strings"
)

// shellBlocks returns, in order, the bodies of the ```sh code blocks in
// every section of the Markdown document whose heading starts with title,
// down to the next heading of the same or a higher level. Lines inside
// code blocks are never headings (a shell comment starts with # too).
func shellBlocks(markdown, title string) ([]string, error) {
	var (
		blocks    []string
		inSection bool
		level     int // of the section's heading
		fence     string
		isShell   bool
		body      strings.Builder
		sections  int
	)
	for _, line := range strings.Split(markdown, "\n") {
		trimmed := strings.TrimSpace(line)
		if fence != "" {
			if strings.HasPrefix(trimmed, fence) && strings.Trim(trimmed, "`~") == "" {
				if inSection && isShell {
					blocks = append(blocks, body.String())
				}
				fence, isShell = "", false
				body.Reset()
				continue
			}
			body.WriteString(line)
			body.WriteByte('\n')
			continue
		}
		if f, info, ok := openingFence(trimmed); ok {
			fence, isShell = f, info == "sh"
			continue
		}
		if l, text, ok := heading(line); ok {
			switch {
			case strings.HasPrefix(text, title):
				inSection, level = true, l
				sections++
			case inSection && l <= level:
				inSection = false
			}
		}
	}
	if fence != "" {
		return nil, fmt.Errorf("a code block is never closed (%s)", fence)
	}
	if sections == 0 {
		return nil, fmt.Errorf("no section whose heading starts with %q", title)
	}
	if len(blocks) == 0 {
		return nil, fmt.Errorf("the %q section has no ```sh block", title)
	}
	return blocks, nil
}

// openingFence reports whether line opens a fenced code block, returning
// the fence and the block's info string (its language).
func openingFence(line string) (fence, info string, ok bool) {
	for _, c := range []string{"```", "~~~"} {
		if strings.HasPrefix(line, c) {
			n := len(line) - len(strings.TrimLeft(line, c[:1]))
			fence = line[:n]
			info, _, _ = strings.Cut(strings.TrimSpace(line[n:]), " ")
			return fence, info, true
		}
	}
	return "", "", false
}

// heading parses an ATX heading ("## Title").
func heading(line string) (level int, text string, ok bool) {
	n := len(line) - len(strings.TrimLeft(line, "#"))
	if n == 0 || n > 6 || (len(line) > n && line[n] != ' ') {
		return 0, "", false
	}
	return n, strings.TrimSpace(line[n:]), true
}
