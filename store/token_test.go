package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/relink/relink/vault"
)

func TestSetAccessToken(t *testing.T) {
	ctx := context.Background()
	key, _, err := vault.Generate()
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, filepath.Join(t.TempDir(), "relink.db"), Options{Sealer: key})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	im, _ := s.BeginImport(ctx, "test")
	if err := im.Add(ctx, Registration{Provider: "cobalt", ProviderID: "clinic-1", AccessToken: "old-token", OrgID: "org"}); err != nil {
		t.Fatal(err)
	}
	if err := im.Commit(ctx, "test"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAccessToken(ctx, "cobalt", "clinic-1", "new-token"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.AccessToken(ctx, "cobalt", "clinic-1"); err != nil || got != "new-token" {
		t.Errorf("AccessToken = %q, %v", got, err)
	}
	var raw []byte
	s.db.QueryRow(`SELECT access_token FROM connections WHERE provider_id = 'clinic-1'`).Scan(&raw)
	if len(raw) == 0 || string(raw) == "new-token" {
		t.Errorf("the token is not sealed at rest: %q", raw)
	}
	if err := s.SetAccessToken(ctx, "cobalt", "nobody", "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown connection: %v", err)
	}
}
