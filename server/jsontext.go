package server

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// badText finds the first string in a JSON document that encoding/json
// would accept but silently alter or that no field should hold: invalid
// UTF-8 and lone surrogates (both become U+FFFD when decoded) and NUL
// characters. It returns the field's path ("caption", "upload_ids[2]",
// "disclose_commercial_content.your_brand"; keys are checked too) and what
// is wrong, or "" and "" when every string is clean. Malformed JSON is
// left to the decoder.
func badText(raw []byte) (field, problem string) {
	type frame struct {
		object    bool
		expectKey bool
		key       string
		index     int
	}
	var stack []*frame
	path := func() string {
		var b strings.Builder
		for _, f := range stack {
			if f.object {
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(f.key)
			} else {
				b.WriteString("[" + strconv.Itoa(f.index) + "]")
			}
		}
		if b.Len() == 0 {
			return "body"
		}
		return b.String()
	}
	for i := 0; i < len(raw); {
		switch raw[i] {
		case '{':
			stack = append(stack, &frame{object: true, expectKey: true})
			i++
		case '[':
			stack = append(stack, &frame{})
			i++
		case '}', ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			i++
		case ',':
			if n := len(stack); n > 0 {
				if stack[n-1].object {
					stack[n-1].expectKey = true
				} else {
					stack[n-1].index++
				}
			}
			i++
		case ':':
			if n := len(stack); n > 0 {
				stack[n-1].expectKey = false
			}
			i++
		case '"':
			end, text, problem := scanJSONString(raw, i)
			if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].expectKey {
				stack[n-1].key = text
				if problem != "" {
					return path(), "has a name that " + problem
				}
			} else if problem != "" {
				return path(), problem
			}
			i = end
		default:
			i++
		}
	}
	return "", ""
}

// scanJSONString reads the string literal opening at raw[start] and
// returns the index after it, its text (approximately: escapes other than
// \" and \\ kept as written, enough to name a key) and what is wrong with
// it, if anything.
func scanJSONString(raw []byte, start int) (end int, text, problem string) {
	var b strings.Builder
	i := start + 1
	for i < len(raw) {
		c := raw[i]
		switch {
		case c == '"':
			return i + 1, b.String(), problem
		case c == '\\' && i+1 < len(raw):
			if raw[i+1] != 'u' || i+6 > len(raw) {
				b.WriteByte(raw[i+1])
				i += 2
				continue
			}
			code, err := strconv.ParseUint(string(raw[i+2:i+6]), 16, 32)
			if err != nil {
				i += 2
				continue
			}
			switch {
			case code == 0 && problem == "":
				problem = "contains a NUL character"
			case code >= 0xD800 && code <= 0xDBFF:
				// A high surrogate must be followed by a low one.
				if i+12 <= len(raw) && raw[i+6] == '\\' && raw[i+7] == 'u' {
					if lo, err := strconv.ParseUint(string(raw[i+8:i+12]), 16, 32); err == nil && lo >= 0xDC00 && lo <= 0xDFFF {
						i += 12
						continue
					}
				}
				if problem == "" {
					problem = "contains a lone UTF-16 surrogate, which is not text"
				}
			case code >= 0xDC00 && code <= 0xDFFF && problem == "":
				problem = "contains a lone UTF-16 surrogate, which is not text"
			}
			b.WriteString(string(raw[i : i+6]))
			i += 6
		case c < utf8.RuneSelf:
			b.WriteByte(c)
			i++
		default:
			r, size := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && size <= 1 && problem == "" {
				problem = "is not valid UTF-8"
			}
			b.WriteString(string(raw[i : i+size]))
			i += size
		}
	}
	return len(raw), b.String(), problem
}
