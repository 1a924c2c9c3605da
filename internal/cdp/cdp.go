// Package cdp drives a headless Chromium for the end-to-end tests, with no
// dependency: it owns launching the browser with --remote-debugging-pipe,
// the Chrome DevTools Protocol spoken over that pipe (NUL-delimited JSON on
// file descriptors 3 and 4), one page per NewPage, and stopping the browser
// and every process it started. It knows only the few commands a test needs
// (open a tab, navigate, evaluate JavaScript); events are read and dropped.
package cdp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Find returns the Chromium to run: /usr/bin/chromium, else the first of
// chromium, chromium-browser on PATH.
func Find() (string, error) {
	if fi, err := os.Stat("/usr/bin/chromium"); err == nil && !fi.IsDir() {
		return "/usr/bin/chromium", nil
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("chromium not found (neither /usr/bin/chromium nor chromium on PATH)")
}

// Browser is a running headless Chromium.
type Browser struct {
	cmd    *exec.Cmd
	stderr *tailBuffer
	w      *os.File // our end of the browser's fd 3: commands

	writeMu sync.Mutex
	mu      sync.Mutex
	nextID  int64
	pending map[int64]chan reply
	readErr error // set once the pipe is closed
	done    chan struct{}
}

type reply struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Data    string `json:"data"`
	} `json:"error"`
}

// Launch starts Chromium at exe, headless. Everything it writes (its
// profile, and through XDG_CONFIG_HOME and XDG_CACHE_HOME its crash database
// and caches) goes under dir, a fresh directory such as a test's TempDir.
// The browser runs in its own process group so Close can stop its helpers
// too.
func Launch(exe, dir string) (*Browser, error) {
	// Our write end → the browser's fd 3; the browser's fd 4 → our read end.
	cmdR, cmdW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		cmdR.Close()
		cmdW.Close()
		return nil, err
	}
	cmd := exec.Command(exe,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-extensions", "--disable-default-apps", "--no-default-browser-check",
		"--no-proxy-server", "--password-store=basic", "--use-mock-keychain",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--remote-debugging-pipe", "about:blank")
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"), "XDG_CACHE_HOME="+filepath.Join(dir, "cache"))
	cmd.ExtraFiles = []*os.File{cmdR, outW}
	b := &Browser{cmd: cmd, stderr: &tailBuffer{max: 8 << 10}, w: cmdW,
		pending: map[int64]chan reply{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = b.stderr, b.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Start()
	cmdR.Close()
	outW.Close()
	if err != nil {
		cmdW.Close()
		outR.Close()
		return nil, fmt.Errorf("cdp: starting %s: %w", exe, err)
	}
	go b.read(outR)
	return b, nil
}

// read dispatches the browser's replies to their callers until the pipe
// closes; events (messages without an id) are dropped.
func (b *Browser) read(r *os.File) {
	defer r.Close()
	br := bufio.NewReader(r)
	var err error
	for {
		var msg []byte
		msg, err = br.ReadBytes(0)
		if err != nil {
			break
		}
		var m struct {
			ID int64 `json:"id"`
			reply
		}
		if json.Unmarshal(msg[:len(msg)-1], &m) != nil || m.ID == 0 {
			continue
		}
		b.mu.Lock()
		ch := b.pending[m.ID]
		delete(b.pending, m.ID)
		b.mu.Unlock()
		if ch != nil {
			ch <- m.reply
		}
	}
	b.mu.Lock()
	b.readErr = fmt.Errorf("cdp: the browser closed its pipe (%v); its output ends with:\n%s", err, b.stderr.String())
	b.mu.Unlock()
	close(b.done)
}

// Call sends method with params to the browser, or to the target attached
// as session when it is not empty, and decodes the result into result
// (when not nil).
func (b *Browser) Call(ctx context.Context, session, method string, params, result any) error {
	if params == nil {
		params = struct{}{}
	}
	ch := make(chan reply, 1)
	b.mu.Lock()
	if b.readErr != nil {
		err := b.readErr
		b.mu.Unlock()
		return err
	}
	b.nextID++
	id := b.nextID
	b.pending[id] = ch
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.pending, id)
		b.mu.Unlock()
	}()
	msg, err := json.Marshal(struct {
		ID        int64  `json:"id"`
		SessionID string `json:"sessionId,omitempty"`
		Method    string `json:"method"`
		Params    any    `json:"params"`
	}{id, session, method, params})
	if err != nil {
		return err
	}
	b.writeMu.Lock()
	_, err = b.w.Write(append(msg, 0))
	b.writeMu.Unlock()
	if err != nil {
		return fmt.Errorf("cdp: %s: %w", method, err)
	}
	select {
	case rep := <-ch:
		if rep.Error != nil {
			return fmt.Errorf("cdp: %s: %s (%d) %s", method, rep.Error.Message, rep.Error.Code, rep.Error.Data)
		}
		if result != nil {
			return json.Unmarshal(rep.Result, result)
		}
		return nil
	case <-b.done:
		b.mu.Lock()
		defer b.mu.Unlock()
		return fmt.Errorf("cdp: %s: %w", method, b.readErr)
	case <-ctx.Done():
		return fmt.Errorf("cdp: %s: %w", method, ctx.Err())
	}
}

// Page is one browser tab, attached in flat mode.
type Page struct {
	b       *Browser
	session string
}

// NewPage opens a blank tab and attaches to it.
func (b *Browser) NewPage(ctx context.Context) (*Page, error) {
	var target struct {
		TargetID string `json:"targetId"`
	}
	if err := b.Call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &target); err != nil {
		return nil, err
	}
	var att struct {
		SessionID string `json:"sessionId"`
	}
	if err := b.Call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &att); err != nil {
		return nil, err
	}
	return &Page{b: b, session: att.SessionID}, nil
}

// Navigate loads url in the tab and returns once the browser has the
// response (after any redirects); the document may still be loading.
func (p *Page) Navigate(ctx context.Context, url string) error {
	var res struct {
		ErrorText string `json:"errorText"`
	}
	if err := p.b.Call(ctx, p.session, "Page.navigate", map[string]any{"url": url}, &res); err != nil {
		return err
	}
	if res.ErrorText != "" {
		return fmt.Errorf("cdp: navigating to %s: %s", url, res.ErrorText)
	}
	return nil
}

// Eval evaluates the JavaScript expression in the tab's current document
// and decodes its value (returned by value) into out, when not nil. A thrown
// exception is an error.
func (p *Page) Eval(ctx context.Context, expr string, out any) error {
	var res struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception *struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	if err := p.b.Call(ctx, p.session, "Runtime.evaluate",
		map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true}, &res); err != nil {
		return err
	}
	if e := res.ExceptionDetails; e != nil {
		msg := e.Text
		if e.Exception != nil {
			msg = e.Exception.Description
		}
		return fmt.Errorf("cdp: evaluating %q: %s", expr, msg)
	}
	if out != nil && len(res.Result.Value) > 0 {
		return json.Unmarshal(res.Result.Value, out)
	}
	return nil
}

// Close asks the browser to quit, then kills its process group if it has
// not gone within a few seconds, and waits for it.
func (b *Browser) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	_ = b.Call(ctx, "", "Browser.close", nil, nil)
	cancel()
	select {
	case <-b.done:
	case <-time.After(3 * time.Second):
	}
	// Helpers (renderer, zygote) share the group; none may outlive the test.
	_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
	b.w.Close()
	err := b.cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		err = nil // killed, or quit with a status after Browser.close: gone either way
	}
	return err
}

// Output returns the end of the browser's stdout and stderr, for failure
// messages.
func (b *Browser) Output() string { return b.stderr.String() }

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = bytes.Clone(t.buf[over:])
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
