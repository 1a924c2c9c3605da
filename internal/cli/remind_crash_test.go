package cli

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relink/relink/provider/sandbox"
	"github.com/relink/relink/store"
)

// TestAKilledSendIsRecoveredByTheNextRun runs the real binary twice. The
// mailbox holds the first run's two messages mid-DATA, and the run is
// killed (SIGKILL) there: the outbox is left with both 'sending', nothing
// queued, and a plan that has nothing new (both users count as already
// reminded). The second run must take them back, send each once and say
// what it recovered, instead of "Nothing to send".
func TestAKilledSendIsRecoveredByTheNextRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	var held atomic.Int32
	var accept atomic.Bool
	release := make(chan struct{})
	var releaseOnce sync.Once
	free := func() { releaseOnce.Do(func() { close(release) }) }
	c, box, _ := remindCLIWith(t, sandbox.MailboxOptions{Reject: func(string, []string) error {
		if accept.Load() {
			return nil
		}
		held.Add(1)
		<-release
		return errors.New("held by the test, then refused: the sender was killed meanwhile")
	}})
	t.Cleanup(free) // before the mailbox closes (cleanups run last first)
	bin := relinkBinary(t, c.dir)
	env := os.Environ()
	for k, v := range c.env {
		env = append(env, k+"="+v)
	}

	first := exec.Command(bin, "remind", "--all-failing", "--yes")
	first.Env = env
	var firstOut strings.Builder
	first.Stdout, first.Stderr = &firstOut, &firstOut
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); held.Load() < 2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			first.Process.Kill()
			first.Wait()
			t.Fatalf("the first run never had both messages in flight (%d held):\n%s", held.Load(), firstOut.String())
		}
	}
	first.Process.Kill() // SIGKILL: no defer, no cleanup
	first.Wait()
	accept.Store(true)
	free()

	st, err := store.Open(context.Background(), c.env["RELINK_DB"], store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	counts, err := st.OutboxCounts(context.Background())
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	if counts["sending"] != 2 || counts["queued"] != 0 {
		t.Fatalf("the kill should leave both messages 'sending' and none queued; outbox %v", counts)
	}

	second := exec.Command(bin, "remind", "--all-failing", "--yes")
	second.Env = env
	out, err := second.CombinedOutput()
	if err != nil {
		t.Fatalf("second run: %v\n%s", err, out)
	}
	for _, want := range []string{
		"2 reminders left queued by an interrupted run (2 of them recovered: that run stopped while sending them)",
		"2 sent (2 resumed from an interrupted run, 2 of them recovered mid-send)",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the second run does not say %q:\n%s", want, out)
		}
	}
	got := map[string]int{}
	for _, m := range box.Messages() {
		for _, to := range m.To {
			got[to]++
		}
	}
	if got["ana@example.com"] != 1 || got["bob@example.com"] != 1 || len(got) != 2 {
		t.Errorf("each user gets exactly one message (the held ones were refused); got %v", got)
	}
}
