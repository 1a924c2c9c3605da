package plaid

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"text/template"
	"time"
)

// Production rate limits of /item/get (PLAID.md §4.1).
const (
	DefaultPerItemPerMinute   = 15
	DefaultPerClientPerMinute = 5000
)

// MaxHostedLinkLifetime is the longest url_lifetime_seconds Plaid accepts.
const MaxHostedLinkLifetime = 21 * 24 * time.Hour

// Config is what the client needs; the config package fills it from
// [plaid] and the PLAID_* environment.
type Config struct {
	BaseURL      string // https://production.plaid.com, https://sandbox.plaid.com or an emulator
	ClientID     string
	Secret       string // never printed
	ClientName   string // shown in Link
	Language     string // default "en"
	CountryCodes []string
	// HostedLink asks Plaid for a hosted_link_url valid for
	// HostedLinkLifetime (0: Plaid's default of 30 minutes).
	HostedLink         bool
	HostedLinkLifetime time.Duration
	// LinkURL is our own page that opens Link, a text/template with
	// {{.Token}}; used when HostedLink is false.
	LinkURL string
	// Rate limits of /item/get: 0 means Plaid's production limits,
	// DefaultPerItemPerMinute and DefaultPerClientPerMinute.
	PerItemPerMinute, PerClientPerMinute int
	Timeout                              time.Duration // per HTTP attempt; 0 means 15 s
}

// linkData is what a LinkURL template sees.
type linkData struct{ Token string }

// check fills the defaults and validates cfg; it returns the parsed LinkURL
// template (nil when HostedLink is used).
func (cfg *Config) check() (*template.Template, error) {
	var errs []error
	u, err := url.Parse(cfg.BaseURL)
	switch {
	case cfg.BaseURL == "":
		errs = append(errs, errors.New("plaid.base_url is empty (set plaid.environment or plaid.base_url)"))
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		errs = append(errs, fmt.Errorf("plaid.base_url %q is not an http(s) URL", cfg.BaseURL))
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.ClientID == "" {
		errs = append(errs, errors.New("plaid.client_id is missing (or env PLAID_CLIENT_ID)"))
	}
	if cfg.Secret == "" {
		errs = append(errs, errors.New("plaid.secret is missing (or env PLAID_SECRET)"))
	}
	if cfg.ClientName == "" {
		errs = append(errs, errors.New("plaid.client_name is missing (Plaid shows it in Link)"))
	}
	if cfg.Language == "" {
		cfg.Language = "en"
	}
	if len(cfg.CountryCodes) == 0 {
		cfg.CountryCodes = []string{"US"}
	}
	if cfg.HostedLinkLifetime < 0 || cfg.HostedLinkLifetime > MaxHostedLinkLifetime {
		errs = append(errs, fmt.Errorf("plaid hosted link lifetime %v is outside (0, 21 days]", cfg.HostedLinkLifetime))
	}
	if cfg.PerItemPerMinute < 0 || cfg.PerClientPerMinute < 0 {
		errs = append(errs, errors.New("plaid rate limits must not be negative"))
	}
	if cfg.PerItemPerMinute == 0 {
		cfg.PerItemPerMinute = DefaultPerItemPerMinute
	}
	if cfg.PerClientPerMinute == 0 {
		cfg.PerClientPerMinute = DefaultPerClientPerMinute
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Second
	}
	var tmpl *template.Template
	switch {
	case cfg.HostedLink:
	case cfg.LinkURL == "":
		errs = append(errs, errors.New("plaid.link_url is empty and plaid.hosted_link is false: set one of them"))
	default:
		tmpl, err = template.New("plaid.link_url").Option("missingkey=error").Parse(cfg.LinkURL)
		if err == nil {
			err = tmpl.Execute(&strings.Builder{}, linkData{Token: "link-check"})
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("plaid.link_url is not a valid template (use {{.Token}}): %w", err))
		}
	}
	return tmpl, errors.Join(errs...)
}
