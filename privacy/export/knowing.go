package export

import (
	"fmt"
	"strings"

	"github.com/loomcast/loomcast/retention"
)

// RightToKnowFile is the archive's entry that answers the right to know.
const RightToKnowFile = "right-to-know.txt"

const rightToKnowIntro = `WHAT WE COLLECT ABOUT YOU, AND WHY
==================================

This document answers your right to know (California Consumer Privacy
Act, sections 1798.100 and 1798.110; in Europe, GDPR article 15): the
categories of personal information Loomcast collects, where each comes
from, why we use it, who receives it and how long we keep it. It is
made from our data map and our retention table, the ones our systems
follow.

The specific pieces of personal information we hold about you are in
the archive of your data: under each category, "In your archive" names
the files that hold them, and the archive's README.txt describes every
field.

We do not sell your personal information, and we do not share it for
cross-context behavioural advertising.
`

// RightToKnow renders the right-to-know document of an archive: every
// category of the data map with its legal categories, sources, purposes,
// recipients and retention (from the retention table, in words), and the
// archive's files holding the person's pieces of it, from the manifest.
// The same text goes into the archive and into the answer to a CCPA
// request to know.
func RightToKnow(m Manifest) string {
	var b strings.Builder
	b.WriteString(rightToKnowIntro)
	for i, c := range retention.DataMap {
		b.WriteString("\n" + strings.Repeat("-", 72) + "\n")
		fmt.Fprintf(&b, "%d. %s\n\n", i+1, c.Name)
		b.WriteString("What it is:\n  " + strings.ReplaceAll(wrap(c.Holds, 70), "\n", "\n  ") + "\n")
		list(&b, "Legal categories (CCPA)", names(c.Legal, func(l retention.LegalCategory) string { return l.Name + " (" + l.Cite + ")" }))
		list(&b, "Where it comes from", names(c.Sources, func(s retention.Source) string { return s.Name }))
		list(&b, "Why we use it", names(c.Purposes, func(p retention.Purpose) string { return p.Name }))
		list(&b, "Who receives it", names(c.Recipients, func(r retention.Recipient) string { return r.Name }))
		b.WriteString("Sold: " + yesNo(c.Sold) + ". Shared for cross-context behavioural advertising: " + yesNo(c.Shared) + ".\n")
		list(&b, "How long we keep it", c.RetentionWords())
		list(&b, "In your archive", archiveFiles(m, c.Tables))
	}
	b.WriteString("\n" + strings.Repeat("-", 72) + "\n")
	b.WriteString(wrap("Besides the recipients named above, any of this may be disclosed, only if the situation arises, to:", 72) + "\n")
	for _, r := range retention.MayAlsoDisclose {
		b.WriteString(indent(wrap("- "+r.Name, 68)) + "\n")
	}
	return b.String()
}

// list writes a heading and its items, one bulleted item a line.
func list(b *strings.Builder, heading string, items []string) {
	b.WriteString(heading + ":\n")
	for _, it := range items {
		b.WriteString(indent(wrap("- "+it, 68)) + "\n")
	}
}

func names[T any](xs []T, name func(T) string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = name(x)
	}
	return out
}

func yesNo(v bool) string {
	if v {
		return "yes"
	}
	return "no"
}

// archiveFiles names the archive's files holding a category's tables, or
// says there are none.
func archiveFiles(m Manifest, tables []string) []string {
	var out []string
	for _, t := range tables {
		if n := m.Tables[t]; n > 0 {
			out = append(out, fmt.Sprintf("data/%s.json (%d record(s))", t, n))
		}
		if t == "uploads" && m.MediaFiles > 0 {
			out = append(out, fmt.Sprintf("media/ (%d file(s))", m.MediaFiles))
		}
	}
	if len(out) == 0 {
		return []string{"nothing: we hold none of this about you at present"}
	}
	return out
}
