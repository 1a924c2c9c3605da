package config

import (
	"fmt"
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
[cobalt]
org_id = "clinic-east"
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
	if cfg.Cobalt.OrgID != "clinic-east" {
		t.Fatalf("cobalt.org_id: %q", cfg.Cobalt.OrgID)
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
		"[cobalt]\norg_id = \"clinic\\u001b[2J\"\n":                       "cobalt.org_id",
		"[cobalt]\norg_id = \" clinic\"\n":                                "cobalt.org_id",
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

// Two real ed25519 public keys (ssh-keygen -t ed25519), for [[people]].
const (
	danaKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMgriEZ/InAHT38MEAoICNP/0nkAXULYta8mB2j01RA5 dana@laptop"
	samKey  = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINBtzvCpAVFC3U/PwqjMoq3FJwpTxLLdibEZq/QzbN7t sam@laptop"
)

func TestSSHAndPeople(t *testing.T) {
	p := write(t, `
[ssh]
addr = "0.0.0.0:2222"
idle_timeout = "10m"
max_sessions = 8
[reminders]
agent_bulk_limit = 40
[[people]]
name = "dana"
role = "lead"
keys = ["`+danaKey+`"]
[[people]]
name = "sam"
role = "viewer"
keys = ["`+samKey+`"]
`)
	cfg, err := Load(p, true, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SSH.Addr != "0.0.0.0:2222" || cfg.SSH.IdleTimeout.Duration != 10*time.Minute || cfg.SSH.MaxSessions != 8 ||
		cfg.SSH.HostKeyFile != "" || cfg.Reminders.AgentBulkLimit != 40 {
		t.Fatalf("ssh: %+v, agent_bulk_limit %d", cfg.SSH, cfg.Reminders.AgentBulkLimit)
	}
	if len(cfg.People) != 2 || cfg.People[0].Name != "dana" || cfg.People[1].Role != "viewer" {
		t.Fatalf("people: %+v", cfg.People)
	}
	keys, err := cfg.People[1].PublicKeys()
	if err != nil || len(keys) != 1 || keys[0].Type() != "ssh-ed25519" {
		t.Fatalf("sam's keys: %v %v", keys, err)
	}

	d := Defaults()
	if d.SSH.Addr != "" || d.SSH.IdleTimeout.Duration != 30*time.Minute || d.SSH.MaxSessions != 64 || d.Reminders.AgentBulkLimit != 25 {
		t.Fatalf("defaults: %+v, agent_bulk_limit %d", d.SSH, d.Reminders.AgentBulkLimit)
	}
}

func TestBadSSHAndPeopleNameKeyAndFile(t *testing.T) {
	person := func(name, role string, keys ...string) string {
		q := make([]string, len(keys))
		for i, k := range keys {
			q[i] = `"` + k + `"`
		}
		return "[[people]]\nname = \"" + name + "\"\nrole = \"" + role + "\"\nkeys = [" + strings.Join(q, ", ") + "]\n"
	}
	cases := map[string][]string{
		"[ssh]\naddr = \"2222\"\n":                      {"ssh.addr", "HOST:PORT"},
		"[ssh]\nmax_sessions = 0\n":                     {"ssh.max_sessions"},
		"[ssh]\nidle_timeout = \"soon\"\n":              {"idle_timeout", "not a duration"},
		"[ssh]\nadress = \"x\"\n":                       {"unknown key ssh.adress"},
		"[reminders]\nagent_bulk_limit = 0\n":           {"reminders.agent_bulk_limit"},
		"[[people]]\nname = \"x\"\nnmae = \"y\"\n":      {"unknown key people.nmae"},
		person("dana", "admin", danaKey):                {"people[0] (dana).role", `"admin" is not one of viewer, agent, lead`},
		person("dana", "lead"):                          {"people[0] (dana).keys", "at least one public key"},
		person("", "lead", danaKey):                     {"people[0].name", "required"},
		person("dana", "lead", danaKey, "ssh-rsa AAAA"): {"people[0] (dana).keys[1]", "not an SSH public key"},
		person("dana", "lead", `no-pty `+danaKey):       {"people[0] (dana).keys[0]", "options are not supported"},
		person("dana", "lead", danaKey) + person("sam", "agent", samKey, danaKey): {
			"people[1] (sam).keys[1]", "is also people[0] (dana).keys[0]", "SHA256:"},
		person("dana", "lead", danaKey) + person("dana", "agent", samKey): {"people[1] (dana).name", "also people[0]"},
	}
	for body, wants := range cases {
		p := write(t, body)
		_, err := Load(p, true, env(nil))
		for _, want := range append(wants, p) {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%q: error %v, want it to say %q", body, err, want)
			}
		}
	}
}

// TestHostedLinkLifetime: plaid.hosted_link_lifetime (url_lifetime_seconds:
// positive, at most 21 days) is read, defaulted and validated.
func TestHostedLinkLifetime(t *testing.T) {
	if d := Defaults(); d.Plaid.HostedLinkLifetime.Duration != 30*time.Minute {
		t.Errorf("default hosted_link_lifetime %v, want Plaid's 30m", d.Plaid.HostedLinkLifetime)
	}
	cfg, err := Load(write(t, "[plaid]\nhosted_link_lifetime = \"504h\"\n"), true, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Plaid.HostedLinkLifetime.Duration != 21*24*time.Hour {
		t.Errorf("hosted_link_lifetime %v", cfg.Plaid.HostedLinkLifetime)
	}
	cases := map[string][]string{
		"[plaid]\nhosted_link_lifetime = \"505h\"\n":   {"plaid.hosted_link_lifetime", "21 days"},
		"[plaid]\nhosted_link_lifetime = \"0s\"\n":     {"plaid.hosted_link_lifetime"},
		"[plaid]\nhosted_link_lifetime = \"1500ms\"\n": {"plaid.hosted_link_lifetime", "whole seconds"},
		"[plaid]\nhosted_link_lifetime = \"soon\"\n":   {"hosted_link_lifetime", "not a duration"},
	}
	for body, wants := range cases {
		p := write(t, body)
		_, err := Load(p, true, env(nil))
		for _, want := range append(wants, p) {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%q: error %v, want it to say %q", body, err, want)
			}
		}
	}
}

// TestRecheckAfter: serve.recheck_after, the delays after a durable-link
// click at which serve reads the connection again, is read, defaulted
// (1m, 5m, 15m, 1h) and validated; an empty list turns it off.
func TestRecheckAfter(t *testing.T) {
	want := []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour}
	if got := Defaults().Serve.RecheckDelays(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("default recheck_after %v, want %v", got, want)
	}
	cfg, err := Load(write(t, "[serve]\nrecheck_after = [\"30s\", \"2m\"]\n"), true, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Serve.RecheckDelays(); fmt.Sprint(got) != "[30s 2m0s]" {
		t.Errorf("recheck_after %v", got)
	}
	off, err := Load(write(t, "[serve]\nrecheck_after = []\n"), true, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := off.Serve.RecheckDelays(); got == nil || len(got) != 0 {
		t.Errorf("recheck_after = [] gives %#v, want an empty list (rechecks off)", got)
	}
	cases := map[string][]string{
		"[serve]\nrecheck_after = [\"5m\", \"1m\"]\n": {"serve.recheck_after[1]", "later than the one before"},
		"[serve]\nrecheck_after = [\"0s\"]\n":         {"serve.recheck_after[0]", "positive"},
		"[serve]\nrecheck_after = [\"200h\"]\n":       {"serve.recheck_after[0]", "at most"},
		"[serve]\nrecheck_after = [\"later\"]\n":      {"recheck_after", "not a duration"},
		"[serve]\nrecheck_after = \"1m\"\n":           {"recheck_after"},
		"[serve]\nrecheck_after = [\"1s\",\"2s\",\"3s\",\"4s\",\"5s\",\"6s\",\"7s\",\"8s\",\"9s\",\"10s\",\"11s\"]\n": {
			"serve.recheck_after", "at most 10"},
	}
	for body, wants := range cases {
		p := write(t, body)
		_, err := Load(p, true, env(nil))
		for _, want := range append(wants, p) {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%q: error %v, want it to say %q", body, err, want)
			}
		}
	}
}

// TestSyncInterval: serve.sync_interval, how often the hub syncs for
// everyone, defaults to 15m; "" and "0s" turn it off (webhooks only); less
// than a minute, or no duration, is refused.
func TestSyncInterval(t *testing.T) {
	if got := Defaults().Serve.SyncInterval.Duration; got != 15*time.Minute {
		t.Errorf("default sync_interval %v, want 15m", got)
	}
	for body, want := range map[string]time.Duration{
		"[serve]\nsync_interval = \"1h\"\n": time.Hour,
		"[serve]\nsync_interval = \"\"\n":   0,
		"[serve]\nsync_interval = \"0s\"\n": 0,
	} {
		cfg, err := Load(write(t, body), true, env(nil))
		if err != nil {
			t.Fatalf("%q: %v", body, err)
		}
		if got := cfg.Serve.SyncInterval.Duration; got != want {
			t.Errorf("%q: sync_interval %v, want %v", body, got, want)
		}
	}
	for body, wants := range map[string][]string{
		"[serve]\nsync_interval = \"10s\"\n":   {"serve.sync_interval", "at least 1m"},
		"[serve]\nsync_interval = \"often\"\n": {"sync_interval", "not a duration"},
		"[serve]\nsync_interval = \"-5m\"\n":   {"sync_interval", "negative"},
	} {
		_, err := Load(write(t, body), true, env(nil))
		for _, want := range wants {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%q: %v, want an error naming %q", body, err, want)
			}
		}
	}
}

func TestDurationsTakeDaysAndWeeks(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"7d": 7 * 24 * time.Hour, "2w": 14 * 24 * time.Hour, "1d12h": 36 * time.Hour, "36h": 36 * time.Hour,
		"1w2d": 9 * 24 * time.Hour, "90s": 90 * time.Second, "0s": 0, "0d": 0,
	} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "d", "7x", "-1d", "1d-2h", "week"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) should fail", bad)
		}
	}
}
