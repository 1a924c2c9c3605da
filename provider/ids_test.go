package provider

import (
	"strings"
	"testing"
)

func TestCheckIDHoldsRegistryAndWebhookIDsToOneRule(t *testing.T) {
	for _, c := range []struct{ id, want string }{
		{"eVBnVMp7zdTJLkRNr33Rs6zr7KNJqBFL9DrE6", ""},
		{"a87ea7b8-5a89-4f2b-9c4e-2f1b0b3c9d11", ""},
		{"clinic_3", ""},
		{"", "is empty"},
		{strings.Repeat("x", MaxIDLen+1), "bytes long"},
		{"item\x00nul", "control"},
		{"item\x1b[2J", "control"},
		{"item\u202eevil", "control or invisible"},
		{"item one", "space or a colon"},
		{"item:one", "space or a colon"},
		{"item\tone", "control"},
		{"item\xe9", "not valid UTF-8"},
	} {
		got := CheckID(c.id)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("CheckID(%q) = %q, want %q", c.id, got, c.want)
		}
	}
}
