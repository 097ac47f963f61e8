package main

// render returns the field's value: the authserv-id, then the host's result
// list (sluice.AuthResult.ResInfo, already folded and sanitized: the host
// renders it because byte-by-byte work is costly inside the sandbox), each
// result on a line of its own. No results at all is "id; none" (RFC 8601
// §2.2).
func render(id, resinfo string) string {
	if resinfo == "" {
		return id + "; none"
	}
	return id + ";\r\n\t" + resinfo
}
