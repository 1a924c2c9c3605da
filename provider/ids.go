package provider

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// MaxIDLen is the longest provider id relink accepts, in bytes. Plaid's
// item_id, Belvo's link UUID and Cobalt's access_token_reference_id are far
// shorter.
const MaxIDLen = 200

// CheckID says what is wrong with a provider id ("" when nothing): the
// registry and every webhook hold ids to the same rule, so an id that
// reaches the cache, a CONN argument or a terminal is one line of printable
// UTF-8 without a space or a colon. The message never quotes the id.
func CheckID(id string) string {
	switch {
	case id == "":
		return "is empty"
	case len(id) > MaxIDLen:
		return fmt.Sprintf("is %d bytes long (at most %d)", len(id), MaxIDLen)
	case !utf8.ValidString(id):
		return "is not valid UTF-8"
	}
	for _, r := range id {
		switch {
		case r == ' ' || r == ':':
			return "has a space or a colon"
		case unicode.IsSpace(r) || unicode.IsControl(r) || !unicode.IsPrint(r):
			return "has a control or invisible character"
		}
	}
	return ""
}
