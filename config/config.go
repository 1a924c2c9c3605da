// Package config loads relink's TOML configuration: the file at the XDG path
// (or --config / RELINK_CONFIG), environment overrides for every secret, and
// validation that names the key and the file of anything wrong. A provider
// with no keys is simply off.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
	"golang.org/x/crypto/ssh"

	"github.com/relink/relink/health"
)

// Config is the whole configuration.
type Config struct {
	Operator      string             `toml:"operator"`
	SecretKeyFile string             `toml:"secret_key_file"`
	Plaid         Plaid              `toml:"plaid"`
	Belvo         Belvo              `toml:"belvo"`
	Cobalt        Cobalt             `toml:"cobalt"`
	Serve         Serve              `toml:"serve"`
	SSH           SSH                `toml:"ssh"`
	People        []Person           `toml:"people"`
	Reminders     Reminders          `toml:"reminders"`
	UI            UI                 `toml:"ui"`
	Keys          map[string]KeyList `toml:"keys"`

	// File is where the config was read from ("" when none exists).
	File string `toml:"-"`
	// SecretKey is RELINK_SECRET_KEY, if set (never from the file).
	SecretKey string `toml:"-"`
}

// Plaid is the [plaid] table.
type Plaid struct {
	ClientID     string   `toml:"client_id"`
	Secret       string   `toml:"secret"`
	Environment  string   `toml:"environment"`
	BaseURL      string   `toml:"base_url"`
	ClientName   string   `toml:"client_name"`
	CountryCodes []string `toml:"country_codes"`
	Language     string   `toml:"language"`
	HostedLink   bool     `toml:"hosted_link"`
	// HostedLinkLifetime is the url_lifetime_seconds asked for with
	// hosted_link: how long a direct Hosted Link works (Plaid's default is
	// 30 minutes; at most 21 days).
	HostedLinkLifetime Duration `toml:"hosted_link_lifetime"`
	LinkURL            string   `toml:"link_url"`
}

// Belvo is the [belvo] table.
type Belvo struct {
	SecretID             string             `toml:"secret_id"`
	SecretPassword       string             `toml:"secret_password"`
	Environment          string             `toml:"environment"`
	BaseURL              string             `toml:"base_url"`
	WidgetURL            string             `toml:"widget_url"`
	WebhookAuthorization string             `toml:"webhook_authorization"`
	LoginRules           []health.LoginRule `toml:"login_rules"`
}

// Cobalt is the [cobalt] table.
type Cobalt struct {
	ClientID      string `toml:"client_id"`
	ClientSecret  string `toml:"client_secret"`
	BaseURL       string `toml:"base_url"`
	WebhookSecret string `toml:"webhook_secret"`
	LinkURL       string `toml:"link_url"`
	// OrgID is Cobalt's org_id for a registry row that names none: the id of
	// our organization (e.g. the clinic) that Link tokens are minted for,
	// not a connection's access_token_reference_id. Optional; without it,
	// every Cobalt row of the registry needs its own org_id.
	OrgID string `toml:"org_id"`
}

// Serve is the [serve] table.
type Serve struct {
	Addr      string   `toml:"addr"`
	PublicURL string   `toml:"public_url"`
	LinkTTL   Duration `toml:"link_ttl"`
	// RecheckAfter are the delays after a durable link is clicked at which
	// relink serve reads the connection again (a repair may send no
	// webhook); an empty list turns these rechecks off.
	RecheckAfter []Duration `toml:"recheck_after"`
	// SyncInterval is how often relink serve syncs every provider for
	// everyone (one sync at a time); "" or "0s": webhooks only.
	SyncInterval Interval `toml:"sync_interval"`
}

// SSH is the [ssh] table: relink serve's dashboard over SSH, for [[people]].
type SSH struct {
	Addr        string   `toml:"addr"`          // HOST:PORT; off when empty
	HostKeyFile string   `toml:"host_key_file"` // default: beside the database, created on first start
	IdleTimeout Duration `toml:"idle_timeout"`  // a session with no key press for this long ends; "0s": never
	MaxSessions int      `toml:"max_sessions"`  // sessions at once; one more is refused with a line saying so
}

// Person is one [[people]] table: who may open the dashboard over SSH,
// known by their public keys, and what their role lets them do.
type Person struct {
	Name string   `toml:"name"` // the name the audit log and histories show
	Role string   `toml:"role"` // viewer | agent | lead
	Keys []string `toml:"keys"` // authorized_keys lines: "ssh-ed25519 AAAA… dana@laptop"
}

// Roles are the [[people]] roles, least to most.
var Roles = []string{"viewer", "agent", "lead"}

// PublicKeys parses the person's keys.
func (p Person) PublicKeys() ([]ssh.PublicKey, error) {
	out := make([]ssh.PublicKey, 0, len(p.Keys))
	for i, k := range p.Keys {
		pk, err := ParsePublicKey(k)
		if err != nil {
			return nil, fmt.Errorf("keys[%d]: %w", i, err)
		}
		out = append(out, pk)
	}
	return out, nil
}

// ParsePublicKey parses one line of an authorized_keys file (options are
// not accepted: a person's key carries no restrictions but their role).
func ParsePublicKey(line string) (ssh.PublicKey, error) {
	pk, _, options, rest, err := ssh.ParseAuthorizedKey([]byte(line))
	switch {
	case err != nil:
		return nil, errors.New("not an SSH public key (want a line like \"ssh-ed25519 AAAA… name@host\", as in ~/.ssh/id_ed25519.pub)")
	case len(options) > 0:
		return nil, errors.New("authorized_keys options are not supported; give the key alone")
	case len(strings.TrimSpace(string(rest))) > 0:
		return nil, errors.New("one key per entry: put each key in its own string")
	}
	return pk, nil
}

// Reminders is the [reminders] table.
type Reminders struct {
	Cooldown   Duration `toml:"cooldown"`
	QuietHours string   `toml:"quiet_hours"`
	// AgentBulkLimit is the most users an agent (not a lead) reminds at
	// once over SSH.
	AgentBulkLimit int     `toml:"agent_bulk_limit"`
	Email          Email   `toml:"email"`
	SMS            SMS     `toml:"sms"`
	Webhook        Webhook `toml:"webhook"`
}

// Webhook is [reminders.webhook]: a signed POST to a team's own sender.
type Webhook struct {
	URL    string `toml:"url"`
	Secret string `toml:"secret"` // env RELINK_REMIND_WEBHOOK_SECRET
}

// Email is [reminders.email].
type Email struct {
	SMTPHost string `toml:"smtp_host"`
	SMTPPort int    `toml:"smtp_port"`
	Username string `toml:"username"`
	Password string `toml:"password"`
	From     string `toml:"from"`
	TLS      string `toml:"tls"`
}

// SMS is [reminders.sms].
type SMS struct {
	BaseURL    string `toml:"base_url"`
	AccountSID string `toml:"account_sid"`
	AuthToken  string `toml:"auth_token"`
	From       string `toml:"from"`
}

// UI is the [ui] table: the dashboard's own settings.
type UI struct {
	Theme        string   `toml:"theme"`         // auto | dark | light | high-contrast | colorblind | a file's name in theme_dir
	ThemeDir     string   `toml:"theme_dir"`     // user themes; default $XDG_CONFIG_HOME/relink/themes
	SyncInterval Duration `toml:"sync_interval"` // background sync; "0" turns it off
}

// Duration is a time.Duration written as "24h", "90m".
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration.
// ParseDuration is time.ParseDuration that also takes days (d, 24h) and
// weeks (w, 7d), alone or first: "7d", "2w", "1d12h", "36h".
func ParseDuration(s string) (time.Duration, error) {
	var total time.Duration
	rest := s
	for _, u := range []struct {
		unit string
		size time.Duration
	}{{"w", 7 * 24 * time.Hour}, {"d", 24 * time.Hour}} {
		i := strings.Index(rest, u.unit)
		if i <= 0 {
			continue
		}
		n, err := strconv.ParseFloat(rest[:i], 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("time: invalid duration %q", s)
		}
		total += time.Duration(n * float64(u.size))
		rest = rest[i+1:]
	}
	if rest == "" {
		if total == 0 && s != "0d" && s != "0w" {
			return 0, fmt.Errorf("time: invalid duration %q", s)
		}
		return total, nil
	}
	if rest != s && (rest[0] == '-' || rest[0] == '+') {
		return 0, fmt.Errorf("time: invalid duration %q", s)
	}
	v, err := time.ParseDuration(rest)
	if err != nil {
		return 0, err
	}
	return total + v, nil
}

func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration (examples: 90s, 15m, 24h, 7d, 2w)", string(b))
	}
	if v < 0 {
		return fmt.Errorf("%q is negative", string(b))
	}
	d.Duration = v
	return nil
}

// Interval is a Duration that may also be written "" (off, as "0s").
type Interval struct{ time.Duration }

// UnmarshalText parses a Go duration, or "" as zero.
func (d *Interval) UnmarshalText(b []byte) error {
	var v Duration
	if len(b) > 0 {
		if err := v.UnmarshalText(b); err != nil {
			return err
		}
	}
	d.Duration = v.Duration
	return nil
}

// MinSyncInterval is the shortest serve.sync_interval: a sync reads every
// connection, and the providers' rate limits are per minute.
const MinSyncInterval = time.Minute

// KeyList is one or more key names: "q" or ["q", "ctrl+c"].
type KeyList []string

// UnmarshalTOML accepts a string or an array of strings.
func (k *KeyList) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case string:
		*k = KeyList{x}
	case []any:
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return fmt.Errorf("key names must be strings, got %v", e)
			}
			*k = append(*k, s)
		}
	default:
		return fmt.Errorf("want a key name or a list of key names, got %v", v)
	}
	return nil
}

// Defaults returns the configuration used where the file is silent.
func Defaults() Config {
	return Config{
		Plaid:  Plaid{Environment: "sandbox", ClientName: "relink", CountryCodes: []string{"US"}, Language: "en", HostedLink: true, HostedLinkLifetime: Duration{30 * time.Minute}},
		Belvo:  Belvo{Environment: "sandbox", WidgetURL: "https://widget.belvo.io/", LoginRules: health.DefaultLoginRules()},
		Cobalt: Cobalt{BaseURL: "https://api.usecobalt.com"},
		Serve: Serve{Addr: "127.0.0.1:8787", LinkTTL: Duration{168 * time.Hour}, RecheckAfter: []Duration{{time.Minute}, {5 * time.Minute}, {15 * time.Minute}, {time.Hour}},
			SyncInterval: Interval{15 * time.Minute}},
		SSH: SSH{IdleTimeout: Duration{30 * time.Minute}, MaxSessions: 64},
		Reminders: Reminders{Cooldown: Duration{24 * time.Hour}, AgentBulkLimit: 25,
			Email: Email{SMTPHost: "localhost", SMTPPort: 587, TLS: "starttls"},
			SMS:   SMS{BaseURL: "https://api.twilio.com"}},
		UI: UI{Theme: "auto", SyncInterval: Duration{5 * time.Minute}},
	}
}

// DefaultPath is $XDG_CONFIG_HOME/relink/config.toml.
func DefaultPath() string {
	return filepath.Join(xdg("XDG_CONFIG_HOME", ".config"), "relink", "config.toml")
}

// DefaultDBPath is $XDG_DATA_HOME/relink/relink.db.
func DefaultDBPath() string {
	return filepath.Join(xdg("XDG_DATA_HOME", filepath.Join(".local", "share")), "relink", "relink.db")
}

func xdg(env, fallback string) string {
	if v := os.Getenv(env); v != "" {
		return v
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "."
	}
	return filepath.Join(home, fallback)
}

// Load reads path (or the default path when empty; a missing default file
// is fine, a missing explicit one is not), applies env overrides from
// getenv, and validates the result.
func Load(path string, explicit bool, getenv func(string) string) (Config, error) {
	cfg := Defaults()
	if path == "" {
		path = DefaultPath()
	}
	if _, err := os.Stat(path); err == nil {
		md, err := toml.DecodeFile(path, &cfg)
		if err != nil {
			return cfg, fmt.Errorf("config %s: %w", path, tidyTOMLError(err))
		}
		if und := md.Undecoded(); len(und) > 0 {
			var keys []string
			for _, k := range und {
				if len(k) > 0 && k[0] == "keys" {
					continue // keys are checked by the dashboard, which knows the action names
				}
				keys = append(keys, k.String())
			}
			if len(keys) > 0 {
				sort.Strings(keys)
				return cfg, fmt.Errorf("config %s: unknown key %s (check the spelling against the README's config reference)", path, strings.Join(keys, ", "))
			}
		}
		cfg.File = path
	} else if explicit {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	applyEnv(&cfg, getenv)
	if cfg.Operator == "" {
		cfg.Operator = getenv("USER")
	}
	if err := cfg.Validate(); err != nil {
		where := cfg.File
		if where == "" {
			where = "(defaults and environment)"
		}
		return cfg, fmt.Errorf("config %s: %w", where, err)
	}
	return cfg, nil
}

func tidyTOMLError(err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		if pe.LastKey != "" {
			return fmt.Errorf("line %d: %s: %s", pe.Position.Line, pe.LastKey, pe.Message)
		}
		return fmt.Errorf("line %d: %s", pe.Position.Line, pe.Message)
	}
	return err
}

func applyEnv(c *Config, getenv func(string) string) {
	set := func(dst *string, name string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	set(&c.Plaid.ClientID, "PLAID_CLIENT_ID")
	set(&c.Plaid.Secret, "PLAID_SECRET")
	set(&c.Belvo.SecretID, "BELVO_SECRET_ID")
	set(&c.Belvo.SecretPassword, "BELVO_SECRET_PASSWORD")
	set(&c.Belvo.WebhookAuthorization, "BELVO_WEBHOOK_AUTHORIZATION")
	set(&c.Cobalt.ClientID, "COBALT_CLIENT_ID")
	set(&c.Cobalt.ClientSecret, "COBALT_CLIENT_SECRET")
	set(&c.Cobalt.WebhookSecret, "COBALT_WEBHOOK_SECRET")
	set(&c.Reminders.Email.Password, "RELINK_SMTP_PASSWORD")
	set(&c.Reminders.SMS.AuthToken, "RELINK_SMS_TOKEN")
	set(&c.Reminders.Webhook.URL, "RELINK_REMIND_WEBHOOK_URL")
	set(&c.Reminders.Webhook.Secret, "RELINK_REMIND_WEBHOOK_SECRET")
	set(&c.SecretKey, "RELINK_SECRET_KEY")
}

// PlaidOn, BelvoOn and CobaltOn report whether a provider has keys.
func (c Config) PlaidOn() bool  { return c.Plaid.ClientID != "" || c.Plaid.Secret != "" }
func (c Config) BelvoOn() bool  { return c.Belvo.SecretID != "" || c.Belvo.SecretPassword != "" }
func (c Config) CobaltOn() bool { return c.Cobalt.ClientID != "" || c.Cobalt.ClientSecret != "" }

// Validate checks values and names the key of the first problem.
func (c Config) Validate() error {
	var errs []string
	bad := func(key, format string, args ...any) { errs = append(errs, key+": "+fmt.Sprintf(format, args...)) }
	oneOf := func(key, v string, allowed ...string) {
		for _, a := range allowed {
			if v == a {
				return
			}
		}
		bad(key, "%q is not one of %s", v, strings.Join(allowed, ", "))
	}
	checkURL := func(key, v string) {
		if v == "" {
			return
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(key, "%q is not an http(s) URL", v)
		}
	}
	checkTemplate := func(key, v string) {
		if v == "" {
			return
		}
		checkURL(key, strings.ReplaceAll(v, "{{.Token}}", "t"))
		if _, err := template.New(key).Parse(v); err != nil {
			bad(key, "not a valid template: %v", err)
		}
	}
	both := func(prefix, a, aKey, b, bKey, env string) {
		if (a == "") != (b == "") {
			bad(prefix, "set both %s and %s (or neither, to turn %s off); env %s", aKey, bKey, prefix, env)
		}
	}
	oneOf("plaid.environment", c.Plaid.Environment, "sandbox", "production")
	checkURL("plaid.base_url", c.Plaid.BaseURL)
	checkTemplate("plaid.link_url", c.Plaid.LinkURL)
	both("plaid", c.Plaid.ClientID, "plaid.client_id", c.Plaid.Secret, "plaid.secret", "PLAID_CLIENT_ID / PLAID_SECRET")
	if c.PlaidOn() && !c.Plaid.HostedLink && c.Plaid.LinkURL == "" {
		bad("plaid.link_url", "required when plaid.hosted_link is false (the page that opens Plaid Link with {{.Token}})")
	}
	// url_lifetime_seconds: "Must be positive. Cannot be longer than 21
	// days." (Plaid's spec, 2020-09-14.yml, HostedLinkURLLifetimeSeconds).
	if l := c.Plaid.HostedLinkLifetime.Duration; l < time.Second || l > MaxHostedLinkLifetime || l%time.Second != 0 {
		bad("plaid.hosted_link_lifetime", "%v: must be whole seconds from 1s to 504h (Plaid allows at most 21 days)", l)
	}
	if len(c.Plaid.ClientName) > 30 {
		bad("plaid.client_name", "at most 30 characters (Plaid shows it in Link)")
	}
	for _, cc := range c.Plaid.CountryCodes {
		if len(cc) != 2 || strings.ToUpper(cc) != cc {
			bad("plaid.country_codes", "%q is not an ISO-3166-1 alpha-2 code like \"US\"", cc)
		}
	}
	oneOf("belvo.environment", c.Belvo.Environment, "sandbox", "production")
	checkURL("belvo.base_url", c.Belvo.BaseURL)
	checkURL("belvo.widget_url", c.Belvo.WidgetURL)
	both("belvo", c.Belvo.SecretID, "belvo.secret_id", c.Belvo.SecretPassword, "belvo.secret_password", "BELVO_SECRET_ID / BELVO_SECRET_PASSWORD")
	for i, r := range c.Belvo.LoginRules {
		if !r.Category.Valid() || !r.Category.Failing() {
			bad(fmt.Sprintf("belvo.login_rules[%d].category", i), "%q is not a failing category", r.Category)
		}
		if len(r.AnyOf) == 0 && len(r.AllOf) == 0 {
			bad(fmt.Sprintf("belvo.login_rules[%d]", i), "needs any_of or all_of")
		}
	}
	checkURL("cobalt.base_url", c.Cobalt.BaseURL)
	checkTemplate("cobalt.link_url", c.Cobalt.LinkURL)
	both("cobalt", c.Cobalt.ClientID, "cobalt.client_id", c.Cobalt.ClientSecret, "cobalt.client_secret", "COBALT_CLIENT_ID / COBALT_CLIENT_SECRET")
	if msg := checkOrgID(c.Cobalt.OrgID); msg != "" {
		bad("cobalt.org_id", "%s", msg)
	}
	checkURL("serve.public_url", c.Serve.PublicURL)
	if c.Serve.Addr != "" && !strings.Contains(c.Serve.Addr, ":") {
		bad("serve.addr", "%q is not HOST:PORT", c.Serve.Addr)
	}
	if c.Serve.LinkTTL.Duration <= 0 {
		bad("serve.link_ttl", "must be positive")
	}
	c.validateRecheckAfter(bad)
	if d := c.Serve.SyncInterval.Duration; d != 0 && d < MinSyncInterval {
		bad("serve.sync_interval", "%v: must be at least %v, or \"\" (or \"0s\") for webhooks only", d, MinSyncInterval)
	}
	if c.SSH.Addr != "" {
		if _, _, err := net.SplitHostPort(c.SSH.Addr); err != nil {
			bad("ssh.addr", "%q is not HOST:PORT (e.g. 0.0.0.0:2222)", c.SSH.Addr)
		}
	}
	if c.SSH.MaxSessions < 1 {
		bad("ssh.max_sessions", "%d: must be at least 1", c.SSH.MaxSessions)
	}
	c.validatePeople(bad)
	if c.Reminders.AgentBulkLimit < 1 {
		bad("reminders.agent_bulk_limit", "%d: must be at least 1", c.Reminders.AgentBulkLimit)
	}
	if c.Reminders.QuietHours != "" {
		if _, _, err := ParseQuietHours(c.Reminders.QuietHours); err != nil {
			bad("reminders.quiet_hours", "%v", err)
		}
	}
	oneOf("reminders.email.tls", c.Reminders.Email.TLS, "starttls", "tls", "none")
	if p := c.Reminders.Email.SMTPPort; p <= 0 || p > 65535 {
		bad("reminders.email.smtp_port", "%d is not a port", p)
	}
	checkURL("reminders.sms.base_url", c.Reminders.SMS.BaseURL)
	checkURL("reminders.webhook.url", c.Reminders.Webhook.URL)
	if c.Reminders.Webhook.URL != "" && c.Reminders.Webhook.Secret == "" {
		bad("reminders.webhook.secret", "required with reminders.webhook.url (env RELINK_REMIND_WEBHOOK_SECRET)")
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// MaxHostedLinkLifetime is the longest plaid.hosted_link_lifetime.
const MaxHostedLinkLifetime = 21 * 24 * time.Hour

// Limits of serve.recheck_after.
const (
	MaxRechecks     = 10
	MaxRecheckAfter = 7 * 24 * time.Hour
)

// validateRecheckAfter checks serve.recheck_after: at most MaxRechecks
// delays, each positive, at most MaxRecheckAfter and later than the one
// before (each counts from the click).
func (c Config) validateRecheckAfter(bad func(key, format string, args ...any)) {
	delays := c.Serve.RecheckAfter
	if len(delays) > MaxRechecks {
		bad("serve.recheck_after", "%d delays: at most %d", len(delays), MaxRechecks)
		return
	}
	for i, d := range delays {
		switch {
		case d.Duration <= 0 || d.Duration > MaxRecheckAfter:
			bad(fmt.Sprintf("serve.recheck_after[%d]", i), "%v: must be positive and at most %v", d.Duration, MaxRecheckAfter)
		case i > 0 && d.Duration <= delays[i-1].Duration:
			bad(fmt.Sprintf("serve.recheck_after[%d]", i), "%v: each delay counts from the click, so it must be later than the one before (%v)",
				d.Duration, delays[i-1].Duration)
		}
	}
}

// RecheckDelays is serve.recheck_after as durations (empty, not nil, when
// the list is empty: rechecks off).
func (s Serve) RecheckDelays() []time.Duration {
	out := make([]time.Duration, 0, len(s.RecheckAfter))
	for _, d := range s.RecheckAfter {
		out = append(out, d.Duration)
	}
	return out
}

// checkOrgID says what is wrong with an org_id ("" when nothing, or when
// unset); it never quotes the value.
func checkOrgID(v string) string {
	switch {
	case v == "":
		return ""
	case !utf8.ValidString(v):
		return "is not UTF-8"
	case len(v) > 256:
		return fmt.Sprintf("is %d bytes long (at most 256)", len(v))
	case strings.TrimSpace(v) != v:
		return "starts or ends with a space"
	}
	for _, r := range v {
		if unicode.IsControl(r) || !unicode.IsPrint(r) {
			return "has a control or invisible character"
		}
	}
	return ""
}

// validatePeople checks [[people]]: a name, a known role and at least one
// key each; a name or a key given twice (to one person or to two) is an
// error that names both places.
func (c Config) validatePeople(bad func(key, format string, args ...any)) {
	names := map[string]int{}
	keys := map[string]string{} // key (wire form) → where it was first
	for i, p := range c.People {
		where := fmt.Sprintf("people[%d]", i)
		if p.Name != "" {
			where = fmt.Sprintf("people[%d] (%s)", i, p.Name)
		}
		switch first, dup := names[p.Name]; {
		case strings.TrimSpace(p.Name) == "":
			bad(where+".name", "required: the name the audit log shows")
		case dup:
			bad(where+".name", "%q is also people[%d]; each person once, with all their keys", p.Name, first)
		default:
			names[p.Name] = i
		}
		if !slices.Contains(Roles, p.Role) {
			bad(where+".role", "%q is not one of %s", p.Role, strings.Join(Roles, ", "))
		}
		if len(p.Keys) == 0 {
			bad(where+".keys", "required: at least one public key (the contents of ~/.ssh/id_ed25519.pub)")
		}
		for j, k := range p.Keys {
			at := fmt.Sprintf("%s.keys[%d]", where, j)
			pk, err := ParsePublicKey(k)
			if err != nil {
				bad(at, "%v", err)
				continue
			}
			wire := string(pk.Marshal())
			if prev, dup := keys[wire]; dup {
				bad(at, "the key %s is also %s; a key names one person", ssh.FingerprintSHA256(pk), prev)
				continue
			}
			keys[wire] = at
		}
	}
}

// ParseQuietHours parses "21:00-08:00" into minutes after midnight.
func ParseQuietHours(s string) (from, to int, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("%q is not HH:MM-HH:MM", s)
	}
	parse := func(v string) (int, error) {
		t, err := time.Parse("15:04", strings.TrimSpace(v))
		if err != nil {
			return 0, fmt.Errorf("%q is not HH:MM-HH:MM", s)
		}
		return t.Hour()*60 + t.Minute(), nil
	}
	if from, err = parse(a); err != nil {
		return
	}
	to, err = parse(b)
	return
}
