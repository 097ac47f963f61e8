package sluice

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sluice-mail/sluice/sdk/abi"
)

// CheckEnhanced checks an enhanced status code "class.subject.detail"
// (RFC 3463 §2: class one digit, subject and detail 1 to 3 digits) whose
// class matches code, as the host does for set_reply (sdk/ABI.md §4.7).
// Plugins use it to refuse a bad reply in their configuration at load time
// instead of failing on the first message.
func CheckEnhanced(enhanced string, code int) error {
	parts := strings.Split(enhanced, ".")
	if len(parts) != 3 {
		return errors.New("not class.subject.detail")
	}
	for i, part := range parts {
		if part == "" || len(part) > 3 || (i == 0 && len(part) != 1) {
			return errors.New("not class.subject.detail")
		}
		for _, c := range part {
			if c < '0' || c > '9' {
				return errors.New("not class.subject.detail")
			}
		}
	}
	if class := code / 100; int(parts[0][0]-'0') != class {
		return fmt.Errorf("class %s does not match the %dxx code", parts[0], class)
	}
	return nil
}

// CheckReplyText checks reply text as the host does: printable ASCII and
// space, at most max bytes (the host allows 400).
func CheckReplyText(text string, max int) error {
	if len(text) > max {
		return fmt.Errorf("longer than %d bytes", max)
	}
	for i := 0; i < len(text); i++ {
		if text[i] < 0x20 || text[i] > 0x7e {
			return fmt.Errorf("contains byte 0x%02x (printable ASCII only)", text[i])
		}
	}
	return nil
}

// Reply is an SMTP reply as SetReply takes it (sdk/ABI.md §4.7).
type Reply struct {
	Code     int    // 400 to 599 for a reject or tempfail
	Enhanced string // "class.subject.detail", class matching Code
	Text     string // printable ASCII
}

// Refuse sets r as h's reply and returns the verdict its class calls for,
// as the function Refuse does.
func (r Reply) Refuse(h Host) Verdict { return Refuse(h, r.Code, r.Enhanced, r.Text) }

// ConfigReply completes and checks a reject or tempfail reply set in a
// plugin's configuration, for Configure. set is what the config gave, def
// the plugin's default: a Code of 0 becomes def.Code and must then be 400
// to 599; an empty Enhanced becomes def.Enhanced's subject.detail under
// the code's class (def "5.7.1" and code 451 give "4.7.1") and must match
// the code; an empty Text becomes def.Text and must be printable ASCII of
// at most maxText bytes (0 means the host's limit, 400). Errors name the
// config keys "code", "enhanced" and "message".
func ConfigReply(set, def Reply, maxText int) (Reply, error) {
	r := set
	if r.Code == 0 {
		r.Code = def.Code
	}
	if r.Code < 400 || r.Code > 599 {
		return Reply{}, fmt.Errorf("code %d is not a 4xx or 5xx reply code", r.Code)
	}
	if r.Enhanced == "" {
		_, detail, _ := strings.Cut(def.Enhanced, ".")
		r.Enhanced = fmt.Sprintf("%d.%s", r.Code/100, detail)
	}
	if err := CheckEnhanced(r.Enhanced, r.Code); err != nil {
		return Reply{}, fmt.Errorf("enhanced %q: %w", r.Enhanced, err)
	}
	if r.Text == "" {
		r.Text = def.Text
	}
	if maxText <= 0 {
		maxText = abi.MaxReplyText
	}
	if err := CheckReplyText(r.Text, maxText); err != nil {
		return Reply{}, fmt.Errorf("message: %w", err)
	}
	return r, nil
}
