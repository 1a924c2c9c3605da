package cli

import (
	"context"
	"os/user"
	"time"

	"github.com/relink/relink/backend"
	"github.com/relink/relink/config"
	"github.com/relink/relink/store"
	"github.com/relink/relink/ticket"
	"github.com/relink/relink/vault"
)

// loadConfig reads the config named by --config, RELINK_CONFIG or the XDG
// default.
func (a *app) loadConfig() (config.Config, error) {
	path, explicit := a.configPath, a.configPath != ""
	if !explicit {
		if v := a.getenv("RELINK_CONFIG"); v != "" {
			path, explicit = v, true
		}
	}
	return config.Load(path, explicit, a.getenv)
}

func (a *app) dbFile() string {
	if a.dbPath != "" {
		return a.dbPath
	}
	if v := a.getenv("RELINK_DB"); v != "" {
		return v
	}
	return config.DefaultDBPath()
}

// openStore opens the cache with the configured secret key.
func (a *app) openStore(ctx context.Context, cfg config.Config) (*store.Store, error) {
	key, err := vault.LoadKey(cfg.SecretKey, cfg.SecretKeyFile)
	if err != nil {
		return nil, err
	}
	opts := store.Options{}
	if key != nil {
		opts.Sealer = key
	}
	return store.Open(ctx, a.dbFile(), opts)
}

// openCache loads the config and opens the cache, for the commands that
// need no provider.
func (a *app) openCache(ctx context.Context) (config.Config, *store.Store, error) {
	cfg, err := a.loadConfig()
	if err != nil {
		return cfg, nil, err
	}
	st, err := a.openStore(ctx, cfg)
	return cfg, st, err
}

// env is a loaded config with an open store and the backend over it.
type env struct {
	cfg  config.Config
	st   *store.Store
	desk *backend.Backend
}

func (a *app) open(ctx context.Context) (*env, error) {
	cfg, err := a.loadConfig()
	if err != nil {
		return nil, err
	}
	st, err := a.openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	provs, err := buildProviders(cfg)
	if err != nil {
		st.Close()
		return nil, err
	}
	signer, err := ticket.LoadOrCreate(ticket.KeyPath(a.dbFile()))
	if err != nil {
		st.Close()
		return nil, err
	}
	return &env{cfg: cfg, st: st, desk: &backend.Backend{Store: st, Providers: provs, Operator: cfg.Operator, Now: time.Now,
		Tickets: signer, PublicURL: cfg.Serve.PublicURL, LinkTTL: cfg.Serve.LinkTTL.Duration}}, nil
}

func (e *env) Close() error { return e.st.Close() }

// operatorOr is who acts: the config's operator, else the login name.
func operatorOr(cfg config.Config) string {
	if cfg.Operator != "" {
		return cfg.Operator
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "unknown"
}
