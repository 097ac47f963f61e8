package scan

import (
	"strconv"
	"strings"
)

// Result is one scan's verdict, in the form plugins get it: its JSON
// encoding is stable (members in this order, symbols and headers sorted) and
// Value reads one member by path without JSON.
type Result struct {
	Engine string `json:"engine"` // EngineRspamd, EngineClamd or EngineSpamd
	// Skipped is SkippedTooLarge when the message was not scanned
	// because of its size; the other members are then empty.
	Skipped string `json:"skipped,omitempty"`

	// rspamd and spamd.
	Action        string   `json:"action,omitempty"` // rspamd's action ("no action", "add header", "rewrite subject", "greylist", "soft reject", "reject")
	Score         float64  `json:"score"`
	RequiredScore float64  `json:"required_score"`
	Spam          bool     `json:"spam"` // spamd's verdict; rspamd: the action is not "no action" or "greylist"
	Symbols       []Symbol `json:"symbols,omitempty"`
	Message       string   `json:"message,omitempty"` // rspamd's messages.smtp_message
	Subject       string   `json:"subject,omitempty"` // rspamd's subject for "rewrite subject"
	// AddHeaders and RemoveHeaders are rspamd's milter block: how its
	// modules ask for header changes.
	AddHeaders    []AddHeader    `json:"add_headers,omitempty"`
	RemoveHeaders []RemoveHeader `json:"remove_headers,omitempty"`
	Report        string         `json:"report,omitempty"` // spamd's REPORT text

	// clamd.
	Infected bool   `json:"infected"`
	Virus    string `json:"virus,omitempty"` // the signature name, such as "Eicar-Signature"
}

// Symbol is one rule that matched.
type Symbol struct {
	Name        string   `json:"name"`
	Score       float64  `json:"score"`
	Description string   `json:"description,omitempty"`
	Options     []string `json:"options,omitempty"`
}

// AddHeader asks for a header field; Order is rspamd's position (0: the
// default place).
type AddHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	Order int    `json:"order"`
}

// RemoveHeader asks to remove a header field: Index 0 removes every
// instance, N the Nth.
type RemoveHeader struct {
	Name  string `json:"name"`
	Index int    `json:"index"`
}

// Value returns the member of r named by path, as text:
//
//	engine, skipped, action, score, required_score, spam, message,
//	subject, report, infected, virus,
//	symbols.count, symbols.N.name|score|description|options,
//	symbols.NAME.score|description|options (NAME: the symbol's name),
//	add_headers.count, add_headers.N.name|value|order,
//	remove_headers.count, remove_headers.N.name|index.
//
// Numbers use the shortest decimal form, booleans "true"/"false", options
// are joined by newlines. ok is false for an unknown path or index.
func (r *Result) Value(path string) (v string, ok bool) {
	head, rest, _ := strings.Cut(path, ".")
	switch head {
	case "engine":
		return r.Engine, rest == ""
	case "skipped":
		return r.Skipped, rest == ""
	case "action":
		return r.Action, rest == ""
	case "score":
		return num(r.Score), rest == ""
	case "required_score":
		return num(r.RequiredScore), rest == ""
	case "spam":
		return strconv.FormatBool(r.Spam), rest == ""
	case "message":
		return r.Message, rest == ""
	case "subject":
		return r.Subject, rest == ""
	case "report":
		return r.Report, rest == ""
	case "infected":
		return strconv.FormatBool(r.Infected), rest == ""
	case "virus":
		return r.Virus, rest == ""
	case "symbols":
		if rest == "count" {
			return strconv.Itoa(len(r.Symbols)), true
		}
		key, member, _ := cutLast(rest)
		var s *Symbol
		if i, ok := index(key, len(r.Symbols)); ok {
			s = &r.Symbols[i]
		} else {
			for j := range r.Symbols {
				if r.Symbols[j].Name == key {
					s = &r.Symbols[j]
					break
				}
			}
		}
		if s == nil {
			return "", false
		}
		switch member {
		case "name":
			return s.Name, true
		case "score":
			return num(s.Score), true
		case "description":
			return s.Description, true
		case "options":
			return strings.Join(s.Options, "\n"), true
		}
	case "add_headers":
		if rest == "count" {
			return strconv.Itoa(len(r.AddHeaders)), true
		}
		key, member, _ := strings.Cut(rest, ".")
		i, ok := index(key, len(r.AddHeaders))
		if !ok {
			return "", false
		}
		h := r.AddHeaders[i]
		switch member {
		case "name":
			return h.Name, true
		case "value":
			return h.Value, true
		case "order":
			return strconv.Itoa(h.Order), true
		}
	case "remove_headers":
		if rest == "count" {
			return strconv.Itoa(len(r.RemoveHeaders)), true
		}
		key, member, _ := strings.Cut(rest, ".")
		i, ok := index(key, len(r.RemoveHeaders))
		if !ok {
			return "", false
		}
		h := r.RemoveHeaders[i]
		switch member {
		case "name":
			return h.Name, true
		case "index":
			return strconv.Itoa(h.Index), true
		}
	}
	return "", false
}

// cutLast splits "A.B.member" at its last dot (symbol names may hold dots).
func cutLast(s string) (before, after string, found bool) {
	i := strings.LastIndexByte(s, '.')
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+1:], true
}

// index parses a canonical decimal index below n.
func index(s string, n int) (int, bool) {
	i, err := strconv.Atoi(s)
	if err != nil || i < 0 || i >= n || s != strconv.Itoa(i) {
		return 0, false
	}
	return i, true
}

func num(f float64) string {
	if f == 0 {
		f = 0 // no "-0"
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}
