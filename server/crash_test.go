package server

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/relink/relink/provider/cobalt"
	"github.com/relink/relink/store"
)

// The crash test runs the server in a child process: the test binary
// itself, re-executed with these variables set (see TestMain).
const (
	childDBEnv     = "RELINK_SERVER_TEST_CHILD_DB"
	childSecretEnv = "RELINK_SERVER_TEST_CHILD_SECRET"
)

func TestMain(m *testing.M) {
	if db := os.Getenv(childDBEnv); db != "" {
		os.Exit(runChild(db, os.Getenv(childSecretEnv)))
	}
	os.Exit(m.Run())
}

// runChild is `relink serve` reduced to Cobalt: it prints its address and
// serves until SIGTERM (or SIGKILL).
func runChild(db, secret string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	st, err := store.Open(ctx, db, store.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer st.Close()
	srv, err := New(Config{Store: st, CobaltSecret: secret, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("listening %s\n", ln.Addr())
	if err := srv.Serve(ctx, ln); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// startChild starts a server process on db and returns it with its base URL.
func startChild(t *testing.T, db, secret string) (*exec.Cmd, string) {
	return startChildB(t, db, secret)
}

func startChildB(t testing.TB, db, secret string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childDBEnv+"="+db, childSecretEnv+"="+secret)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the server process: %v", err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if err != nil || !ok {
		t.Fatalf("the server process said %q (%v)", line, err)
	}
	return cmd, "http://" + addr
}

func TestKillDashNineLosesNoAcknowledgedEvent(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	db := filepath.Join(t.TempDir(), "relink.db")
	const secret = "whsec_crash_test"
	st, err := store.Open(context.Background(), db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	im, err := st.BeginImport(context.Background(), "test")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 { // clinics 50…59 stay unregistered: their events wait
		im.Add(context.Background(), store.Registration{Provider: "cobalt", ProviderID: fmt.Sprintf("clinic_%d", i)})
	}
	if err := im.Commit(context.Background(), "test"); err != nil {
		t.Fatal(err)
	}
	st.Close()

	const total, clients, killAfter = 8000, 32, 1500
	bodies := make([][]byte, total)
	for i := range bodies {
		ref := fmt.Sprintf("clinic_%d", i%60)
		bodies[i] = cobaltBody(t, fmt.Sprintf("evt_%d", i), ref, "access_token.login_required",
			time.Now().Add(time.Duration(i)*time.Millisecond), loginRequired(ref))
	}
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	post := func(base string, i int) (int, error) {
		req, _ := http.NewRequest(http.MethodPost, base+"/webhooks/cobalt", strings.NewReader(string(bodies[i])))
		req.Header.Set(cobalt.SignatureHeader, hmacHex(secret, bodies[i]))
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}

	cmd, base := startChild(t, db, secret)
	acked := make([]bool, total)
	var nAcked, next atomic.Int64
	var killed atomic.Bool
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= total {
					return
				}
				status, err := post(base, i)
				if err != nil {
					if killed.Load() {
						return
					}
					t.Errorf("before the kill: %v", err)
					return
				}
				if status/100 == 2 {
					acked[i] = true
					if nAcked.Add(1) == killAfter && killed.CompareAndSwap(false, true) {
						cmd.Process.Kill() // SIGKILL, mid-burst
					}
				}
			}
		})
	}
	wg.Wait()
	cmd.Wait()
	hc.CloseIdleConnections()
	if !killed.Load() || nAcked.Load() >= total {
		t.Fatalf("the server was not killed mid-burst (%d of %d acknowledged)", nAcked.Load(), total)
	}
	t.Logf("%d events acknowledged before kill -9", nAcked.Load())

	cmd, base = startChild(t, db, secret)
	ro, err := sql.Open("sqlite", "file:"+db+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	stored := map[string]bool{}
	rows, err := ro.Query(`SELECT event_id FROM events WHERE provider = 'cobalt'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		rows.Scan(&id)
		stored[id] = true
	}
	rows.Close()
	missing := 0
	for i, ok := range acked {
		if ok && !stored[fmt.Sprintf("evt_%d", i)] {
			missing++
		}
	}
	if missing > 0 {
		t.Fatalf("%d acknowledged events are missing after kill -9 (%d stored)", missing, len(stored))
	}

	// The providers retry what was not acknowledged; everything ends up
	// stored once.
	next.Store(0)
	for range clients {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < total; i = int(next.Add(1) - 1) {
				if status, err := post(base, i); err != nil || status != 200 {
					t.Errorf("retry of evt_%d after the restart: %d %v", i, status, err)
					return
				}
			}
		})
	}
	wg.Wait()
	var n int
	ro.QueryRow(`SELECT COUNT(*) FROM events WHERE provider = 'cobalt'`).Scan(&n)
	if n != total {
		t.Errorf("%d events stored after the retries, want %d", n, total)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("the server did not stop cleanly on SIGTERM: %v", err)
	}
}
