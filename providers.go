package main

import (
	"github.com/relink/relink/config"
	"github.com/relink/relink/provider"
)

// buildProviders makes a client for every provider the config turns on.
func buildProviders(cfg config.Config) (map[string]provider.Provider, error) {
	out := map[string]provider.Provider{}
	return out, nil
}
