package cli

import (
	"fmt"

	"github.com/relink/relink/config"
	"github.com/relink/relink/provider"
	"github.com/relink/relink/provider/belvo"
	"github.com/relink/relink/provider/cobalt"
	"github.com/relink/relink/provider/plaid"
)

// buildProviders makes a client for every provider the config turns on.
func buildProviders(cfg config.Config) (map[string]provider.Provider, error) {
	out := map[string]provider.Provider{}
	if cfg.PlaidOn() {
		base := cfg.Plaid.BaseURL
		if base == "" {
			base = map[string]string{"sandbox": "https://sandbox.plaid.com", "production": "https://production.plaid.com"}[cfg.Plaid.Environment]
		}
		c, err := plaid.New(plaid.Config{BaseURL: base, ClientID: cfg.Plaid.ClientID, Secret: cfg.Plaid.Secret,
			ClientName: cfg.Plaid.ClientName, Language: cfg.Plaid.Language, CountryCodes: cfg.Plaid.CountryCodes,
			HostedLink: cfg.Plaid.HostedLink, LinkURL: cfg.Plaid.LinkURL})
		if err != nil {
			return nil, fmt.Errorf("config %s: [plaid]: %w", cfg.File, err)
		}
		out[provider.Plaid] = c
	}
	if cfg.BelvoOn() {
		base := cfg.Belvo.BaseURL
		if base == "" {
			base = map[string]string{"sandbox": "https://sandbox.belvo.com", "production": "https://api.belvo.com"}[cfg.Belvo.Environment]
		}
		c, err := belvo.New(belvo.Config{BaseURL: base, SecretID: cfg.Belvo.SecretID, SecretPassword: cfg.Belvo.SecretPassword,
			WidgetURL: cfg.Belvo.WidgetURL, LoginRules: cfg.Belvo.LoginRules})
		if err != nil {
			return nil, fmt.Errorf("config %s: [belvo]: %w", cfg.File, err)
		}
		out[provider.Belvo] = c
	}
	if cfg.CobaltOn() {
		c, err := cobalt.New(cobalt.Config{BaseURL: cfg.Cobalt.BaseURL, ClientID: cfg.Cobalt.ClientID,
			ClientSecret: cfg.Cobalt.ClientSecret, LinkURL: cfg.Cobalt.LinkURL})
		if err != nil {
			return nil, fmt.Errorf("config %s: [cobalt]: %w", cfg.File, err)
		}
		out[provider.Cobalt] = c
	}
	return out, nil
}
