package cli

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/relink/relink/provider/sandbox"
)

// TestLinkExpiresAsPlaidHostedLinkLifetimeSays: relink link --json against
// the Plaid emulator. Without plaid.hosted_link_lifetime a direct Hosted
// Link lives Plaid's default 30 minutes; with it, relink asks for that
// url_lifetime_seconds and expires_at is the expiration Plaid answers (the
// link_token "will expire at the same time as the Hosted Link URL",
// 2020-09-14.yml, LinkTokenCreateResponse.expiration).
func TestLinkExpiresAsPlaidHostedLinkLifetimeSays(t *testing.T) {
	emu, err := sandbox.NewPlaid(sandbox.PlaidOptions{PerItemPerMinute: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	if _, err := emu.AddConnection(sandbox.Connection{ID: "item-1", AccessToken: "access-sandbox-LIFE", Code: "ITEM_LOGIN_REQUIRED"}); err != nil {
		t.Fatal(err)
	}
	id, secret := emu.Credentials()
	for _, tc := range []struct {
		name, key string
		want      time.Duration
	}{
		{"Plaid's default", "", 30 * time.Minute},
		{"three days", `hosted_link_lifetime = "72h"`, 72 * time.Hour},
		{"21 days", `hosted_link_lifetime = "504h"`, 21 * 24 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCLI(t)
			c.env["RELINK_CONFIG"] = c.file("config.toml", fmt.Sprintf("[plaid]\nclient_id = %q\nsecret = %q\nbase_url = %q\n%s\n",
				id, secret, emu.URL(), tc.key))
			if out, errs, code := c.run("", "import", c.file("reg.csv",
				"provider,provider_id,access_token,user_ref,name,email,phone,institution\nplaid,item-1,access-sandbox-LIFE,u1,Ana,ana@example.com,,\n")); code != 0 {
				t.Fatalf("import: %s %s", out, errs)
			}
			before := time.Now()
			out, errs, code := c.run("", "link", "plaid:item-1", "--json")
			if code != 0 {
				t.Fatalf("link: %d %s %s", code, out, errs)
			}
			var l struct {
				URL       string    `json:"url"`
				ExpiresAt time.Time `json:"expires_at"`
				Kind      string    `json:"kind"`
			}
			if err := json.Unmarshal([]byte(out), &l); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if l.Kind != "direct" || l.ExpiresAt.Before(before.Add(tc.want).Add(-2*time.Second)) || l.ExpiresAt.After(time.Now().Add(tc.want).Add(2*time.Second)) {
				t.Errorf("link %+v, want a direct link expiring %v from now", l, tc.want)
			}
		})
	}
}
