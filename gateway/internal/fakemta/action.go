package fakemta

import "fmt"

// Step is a point of the SMTP dialogue where the MTA can misbehave.
type Step int

// The steps, in dialogue order.
const (
	Greeting  Step = iota // the 220 greeting
	Ehlo                  // the reply to EHLO
	Helo                  // the reply to HELO
	Mail                  // the reply to MAIL FROM
	Rcpt                  // the reply to RCPT TO
	DataCmd               // the reply to DATA (354 when accepted)
	EndOfData             // the reply after the final dot
	Rset                  // the reply to RSET
	XClient               // the reply to XCLIENT (a new 220 greeting when accepted; raw mode)
	XForward              // the reply to XFORWARD (raw mode)
	StartTLS              // the reply to STARTTLS (a 220, then the handshake, when accepted; raw mode)
	numSteps
)

var stepNames = [numSteps]string{"Greeting", "Ehlo", "Helo", "Mail", "Rcpt", "DataCmd", "EndOfData", "Rset", "XClient", "XForward", "StartTLS"}

func (s Step) String() string {
	if s >= 0 && s < numSteps {
		return stepNames[s]
	}
	return fmt.Sprintf("Step(%d)", int(s))
}

type kind int

const (
	kindAccept  kind = iota
	kindReply        // an SMTP reply, maybe followed by closing
	kindHang         // no answer until the test ends
	kindDrop         // close the connection without a word
	kindSend         // raw bytes, then carry on
	kindEndless      // a multi-line reply that never ends
)

// Action is what the MTA does at a step. The zero value is Accept.
type Action struct {
	kind     kind
	code     int
	enhanced string
	text     string // reply text, or the bytes of Send
	close    bool   // close the connection after the reply
}

// Accept gives the normal positive reply.
func Accept() Action { return Action{} }

// Reply answers with any reply code; enhanced may be empty. At EndOfData a
// 2xx reply accepts and records the message, like Accept.
func Reply(code int, enhanced, text string) Action {
	return Action{kind: kindReply, code: code, enhanced: enhanced, text: text}
}

// Reject answers with a 5xx reply. It panics on another code.
func Reject(code int, enhanced, text string) Action {
	if code/100 != 5 {
		panic(fmt.Sprintf("fakemta: Reject with code %d", code))
	}
	return Reply(code, enhanced, text)
}

// Tempfail answers with a 4xx reply. It panics on another code.
func Tempfail(code int, enhanced, text string) Action {
	if code/100 != 4 {
		panic(fmt.Sprintf("fakemta: Tempfail with code %d", code))
	}
	return Reply(code, enhanced, text)
}

// Shutdown answers "421 4.3.2 Service shutting down" and closes the
// connection, as an MTA going down mid-session does (RFC 5321 §3.8).
func Shutdown() Action {
	return Action{kind: kindReply, code: 421, enhanced: "4.3.2", text: "Service shutting down", close: true}
}

// Hang never answers; the connection stays open until the test ends.
func Hang() Action { return Action{kind: kindHang} }

// Drop closes the connection without answering.
func Drop() Action { return Action{kind: kindDrop} }

// Garbage answers with a line that is not an SMTP reply, then carries on.
func Garbage() Action { return Send("this is not an SMTP reply\r\n") }

// Send writes raw bytes instead of the reply (an over-long line, a reply
// followed by an injected one, a bare LF...), then carries on.
func Send(raw string) Action { return Action{kind: kindSend, text: raw} }

// Endless answers with a multi-line reply that never ends: "250-" lines until
// the client goes away or the test ends.
func Endless() Action { return Action{kind: kindEndless} }

// accepts reports whether a takes the message at end of data: Accept, or a
// 2xx reply with custom text such as "250 2.0.0 Ok: queued as ABC123".
func (a Action) accepts() bool {
	return a.kind == kindAccept || (a.kind == kindReply && a.code/100 == 2)
}

// needsRaw reports whether go-smtp's server cannot perform a at step.
func (a Action) needsRaw(step Step) bool {
	switch a.kind {
	case kindAccept:
		return false
	case kindReply:
		if a.close {
			return true
		}
	case kindHang, kindDrop:
	default:
		return true
	}
	return step != Mail && step != Rcpt && step != EndOfData
}

// format renders a reply action as wire bytes.
func (a Action) format() string {
	text := a.text
	if a.enhanced != "" {
		text = a.enhanced + " " + text
	}
	return fmt.Sprintf("%03d %s\r\n", a.code, text)
}
