package bridge

import (
	"strconv"
	"strings"

	"github.com/sluice-mail/sluice/gateway/smtp"
)

// maxQueueID bounds a queue id taken from a downstream reply. Postfix's are
// 10 to 20 characters (long queue ids, postconf enable_long_queue_ids).
const maxQueueID = 64

// queuedAs is what Postfix's end-of-data reply says before its queue id:
// "250 2.0.0 Ok: queued as 4XyZ123" (RFC 5321 §4.2 leaves the text free).
const queuedAs = "queued as "

// queueID returns the queue id in a downstream's reply to the end of data,
// or "" when there is none that can be trusted: the word after "queued as",
// kept only when it is 1 to maxQueueID characters of [A-Za-z0-9._-]. Other
// MTAs word their reply differently, and then no id is found. Only this id,
// never the rest of the text, may go back to the client (docs/DESIGN.md §1).
func queueID(r *smtp.Reply) string {
	if r == nil {
		return ""
	}
	for _, line := range r.Sanitized().Lines { // ASCII: ToLower keeps offsets
		i := strings.Index(strings.ToLower(line), queuedAs)
		if i < 0 {
			continue
		}
		id, _, _ := strings.Cut(line[i+len(queuedAs):], " ")
		if validQueueID(id) {
			return id
		}
		return ""
	}
	return ""
}

func validQueueID(id string) bool {
	if id == "" || len(id) > maxQueueID {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// replyText renders a downstream reply on one line, sanitized, for logs.
func replyText(r *smtp.Reply) string {
	s := r.Sanitized()
	var b strings.Builder
	b.WriteString(strconv.Itoa(s.Code))
	if s.Enhanced != "" {
		b.WriteString(" " + s.Enhanced)
	}
	if len(s.Lines) > 0 {
		b.WriteString(" " + strings.Join(s.Lines, " / "))
	}
	return b.String()
}
