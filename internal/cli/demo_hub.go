package cli

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/sync/errgroup"

	"github.com/relink/relink/config"
	"github.com/relink/relink/server"
)

// demoHub is relink --demo --ssh-addr: the demo world served as a hub.
// Instead of opening the dashboard here, it serves it over SSH to one demo
// person (a lead) whose key pair it makes in a throwaway folder, and prints
// the ssh command that opens it (with a known_hosts file that holds the
// hub's key, so nothing asks to trust it). It runs relink serve's hub
// (runHub): the sync at serve.sync_interval, the outbox, and the notice
// to every session when the cache changes, so what one session does shows
// in the others at once. It runs until interrupted.
func (a *app) demoHub(ctx context.Context, cfg config.Config, f dashboardFlags) error {
	if _, _, err := net.SplitHostPort(f.sshAddr); err != nil {
		return usagef("--ssh-addr %q is not HOST:PORT (e.g. 127.0.0.1:2222)", f.sshAddr)
	}
	fmt.Fprintln(a.stderr, "relink: starting the demo (provider emulators on loopback, a throwaway cache)…")
	changes := &notices{}
	e, rem, err := a.openDemo(ctx, cfg, f.demoSize, changes.Notify)
	if err != nil {
		return err
	}
	defer e.Close()
	defer rem.Close()
	dir, err := os.MkdirTemp("", "relink-demo-ssh-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	keyFile := filepath.Join(dir, "demo_ed25519")
	pub, err := writeDemoKey(keyFile)
	if err != nil {
		return err
	}
	cfg.SSH = config.SSH{Addr: f.sshAddr, MaxSessions: 16}
	cfg.People = []config.Person{{Name: "demo", Role: "lead", Keys: []string{pub}}}
	if f.theme != "" {
		cfg.UI.Theme = f.theme
	}
	e.cfg = cfg                                       // the hub's loops read serve.sync_interval from it
	log := server.NewLogger(a.stderr, slog.LevelInfo) // this terminal is not the dashboard's: who logs in, who is refused
	hub, err := newHub(cfg, e, rem, filepath.Join(dir, "ssh_host_ed25519_key"), log, a.tuneSession)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", f.sshAddr)
	if err != nil {
		return fmt.Errorf("listening for SSH on %s: %w; choose another --ssh-addr", f.sshAddr, err)
	}
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	hostPattern := "[" + host + "]:" + port
	if port == "22" {
		hostPattern = host
	}
	knownHosts := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(knownHosts, []byte(hostPattern+" "+strings.TrimSpace(string(gossh.MarshalAuthorizedKey(hub.HostKey())))+"\n"), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "relink demo: the dashboard is served over SSH on %s (host key %s), to one person, demo (lead).\nOpen it from another terminal with:\n\n", ln.Addr(), hub.Fingerprint())
	fmt.Fprintf(a.stdout, "  ssh -p %s -i %s -o IdentitiesOnly=yes -o UserKnownHostsFile=%s %s\n\n",
		port, shellQuote(keyFile), shellQuote(knownHosts), host)
	fmt.Fprintf(a.stdout, "The reminders it sends arrive in a local mailbox; read them and click their links at:\n\n  %s\n\n", e.mailbox)
	fmt.Fprintf(a.stdout, "Its reconnect funnel, from another terminal:\n\n  RELINK_DB=%s relink report\n\nCtrl+C stops the demo.\n", shellQuote(e.st.Path()))
	g, gctx := errgroup.WithContext(ctx)
	a.runHub(gctx, g, e, rem, changes, &hubSSH{srv: hub, ln: ln}, log)
	return g.Wait()
}

// writeDemoKey makes an ed25519 key pair for the demo person: the private
// key at path (OpenSSH's format, mode 600, as ssh insists) and the public
// one at path.pub; it returns the public key's authorized_keys line.
func writeDemoKey(path string) (string, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	block, err := gossh.MarshalPrivateKey(priv, "relink demo")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return "", err
	}
	spub, err := gossh.NewPublicKey(pub)
	if err != nil {
		return "", err
	}
	line := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(spub))) + " demo@relink"
	return line, os.WriteFile(path+".pub", []byte(line+"\n"), 0o644)
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
