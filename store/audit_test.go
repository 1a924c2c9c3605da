package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// An act done under WithSSHKey records the key's fingerprint in its audit
// line, whichever write makes it (here a minted link and a plain entry);
// others record none.
func TestAuditRecordsTheSSHKey(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "a.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	im, err := s.BeginImport(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := im.Add(ctx, Registration{Provider: "belvo", ProviderID: "l1", Name: "Ana"}); err != nil {
		t.Fatal(err)
	}
	if err := im.Commit(ctx, "reg.csv"); err != nil {
		t.Fatal(err)
	}
	c, err := s.Connection(ctx, "belvo", "l1")
	if err != nil {
		t.Fatal(err)
	}
	const fp = "SHA256:2Xq0AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abc"
	over := WithSSHKey(ctx, fp)
	at := time.Now()
	if _, err := s.AddLink(over, Link{ConnectionID: c.ID, Kind: LinkDurable, URL: "https://relink.example.com/r/t", Ticket: "t",
		ExpiresAt: &at, Operator: "dana", CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	if err := s.Audit(over, AuditEntry{Operator: "dana", Action: "copy", Target: "belvo:l1", Detail: "durable link"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Audit(ctx, AuditEntry{Operator: "admin", Action: "sync", Target: "belvo"}); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	s.AuditSince(ctx, time.Time{}, func(e AuditEntry) error { got[e.Operator+" "+e.Action] = e.SSHKey; return nil })
	want := map[string]string{"dana link": fp, "dana copy": fp, "admin sync": "", "test import": ""}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s: ssh_key %q (present %v), want %q", k, g, ok, v)
		}
	}
}
