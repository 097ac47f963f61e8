package sluice

import (
	"errors"
	"fmt"
	"strings"
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

// ConfigReply completes and checks a reject or tempfail reply set in a
// plugin's configuration, for Configure: a code of 0 becomes defCode and
// must then be 400 to 599; an empty enhanced code becomes "CLASS.detail"
// (detail such as "7.1", CLASS the code's first digit) and must match the
// code; an empty text becomes defText and must be printable ASCII of at most
// maxText bytes. Errors name the config keys "code", "enhanced" and
// "message".
func ConfigReply(code int, enhanced, text string, defCode int, detail, defText string, maxText int) (int, string, string, error) {
	if code == 0 {
		code = defCode
	}
	if code < 400 || code > 599 {
		return 0, "", "", fmt.Errorf("code %d is not a 4xx or 5xx reply code", code)
	}
	if enhanced == "" {
		enhanced = fmt.Sprintf("%d.%s", code/100, detail)
	}
	if err := CheckEnhanced(enhanced, code); err != nil {
		return 0, "", "", fmt.Errorf("enhanced %q: %w", enhanced, err)
	}
	if text == "" {
		text = defText
	}
	if err := CheckReplyText(text, maxText); err != nil {
		return 0, "", "", fmt.Errorf("message: %w", err)
	}
	return code, enhanced, text, nil
}
