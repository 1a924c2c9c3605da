package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadFullConfigAndEnvOverrides(t *testing.T) {
	p := write(t, `
operator = "dana"
[plaid]
client_id = "cid"
secret = "from-file"
client_name = "Acme"
country_codes = ["US", "CA"]
[belvo]
secret_id = "sid"
secret_password = "spw"
[[belvo.login_rules]]
any_of = ["bloqueo"]
category = "account_locked"
[serve]
public_url = "https://relink.example.com"
link_ttl = "72h"
[reminders]
cooldown = "12h"
quiet_hours = "21:00-08:00"
[ui]
sync_interval = "0s"
[keys]
quit = ["q", "ctrl+c"]
help = "?"
`)
	cfg, err := Load(p, true, env(map[string]string{"PLAID_SECRET": "from-env", "RELINK_SECRET_KEY": "k"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Plaid.Secret != "from-env" || cfg.Plaid.ClientID != "cid" || cfg.Operator != "dana" {
		t.Fatalf("env override: %+v", cfg.Plaid)
	}
	if cfg.Serve.LinkTTL.Duration != 72*time.Hour || cfg.Reminders.Cooldown.Duration != 12*time.Hour || cfg.UI.SyncInterval.Duration != 0 {
		t.Fatalf("durations: %+v %+v", cfg.Serve, cfg.Reminders)
	}
	if len(cfg.Belvo.LoginRules) != 1 || cfg.Belvo.LoginRules[0].Category != "account_locked" {
		t.Fatalf("login rules replace the defaults: %+v", cfg.Belvo.LoginRules)
	}
	if len(cfg.Keys["quit"]) != 2 || cfg.Keys["help"][0] != "?" {
		t.Fatalf("keys: %+v", cfg.Keys)
	}
	if !cfg.PlaidOn() || !cfg.BelvoOn() || cfg.CobaltOn() || cfg.SecretKey != "k" {
		t.Fatal("providers on/off or secret key wrong")
	}
}

func TestBadConfigNamesKeyAndFile(t *testing.T) {
	cases := map[string]string{
		"[plaid]\nclient_idd = \"x\"\n":                                   "plaid.client_idd",
		"[serve]\nlink_ttl = \"soon\"\n":                                  "link_ttl",
		"[plaid]\nenvironment = \"prod\"\n":                               "plaid.environment",
		"[plaid]\nclient_id = \"only-id\"\n":                              "plaid.secret",
		"[reminders.email]\ntls = \"ssl\"\n":                              "reminders.email.tls",
		"[reminders]\nquiet_hours = \"late\"\n":                           "reminders.quiet_hours",
		"[serve]\npublic_url = \"relink.example.com\"\n":                  "serve.public_url",
		"[cobalt]\nlink_url = \"https://x/{{.Token\"\n":                   "cobalt.link_url",
		"[[belvo.login_rules]]\ncategory = \"healthy\"\nany_of=[\"x\"]\n": "belvo.login_rules[0].category",
		"operator = \n": "line 1",
	}
	for body, want := range cases {
		p := write(t, body)
		_, err := Load(p, true, env(nil))
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%q: error %v, want it to name %q and the file", body, err, want)
		}
	}
}

func TestMissingFiles(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "none.toml"), true, env(nil)); err == nil {
		t.Fatal("an explicit missing config must be an error")
	}
	cfg, err := Load(filepath.Join(t.TempDir(), "none.toml"), false, env(nil))
	if err != nil || cfg.File != "" || cfg.Serve.Addr != "127.0.0.1:8787" {
		t.Fatalf("a missing default config means defaults: %+v %v", cfg.Serve, err)
	}
}

func TestSecretsNotInErrors(t *testing.T) {
	p := write(t, "[plaid]\nsecret = \"sup3rs3cret\"\n")
	_, err := Load(p, true, env(nil))
	if err == nil || strings.Contains(err.Error(), "sup3rs3cret") {
		t.Fatalf("error %v", err)
	}
}
