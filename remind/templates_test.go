package remind

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/relink/relink/health"
)

func item(cat health.Category, w health.Warning, deadline *time.Time, msg string) Item {
	return Item{Connection: "plaid:item-1", Provider: "plaid", Institution: "Tartan Bank", Category: cat, Warning: w,
		Title: TitleOf(cat, w), Deadline: deadline, UserMessage: msg,
		Link: "https://relink.example.com/r/TICKET-1", LinkExpires: time.Date(2026, 3, 9, 10, 0, 0, 0, time.UTC)}
}

func TestDefaultTemplatesSayWhatToDoFirst(t *testing.T) {
	tpl, err := LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC)
	u := User{Name: "Ana Silva", Email: "ana@example.com"}
	cases := []struct {
		it   Item
		want []string
	}{
		{item(health.AccountLocked, "", nil, ""), []string{"locked", "First unlock it with Tartan Bank", "Then reconnect"}},
		{item(health.PasswordExpired, "", nil, ""), []string{"First reset your password on Tartan Bank's website", "then reconnect"}},
		{item(health.ActionAtInstitution, "", nil, ""), []string{"Log in to Tartan Bank's website and complete the pending step"}},
		{item(health.LoginRequired, "", nil, ""), []string{"Sign in again"}},
		{item(health.MFARequired, "", nil, ""), []string{"confirm it is you"}},
		{item(health.ConsentExpired, "", nil, ""), []string{"expired", "renew"}},
		{item(health.Incomplete, "", nil, ""), []string{"not finished"}},
		{item(health.Healthy, health.ConsentExpiring, &deadline, ""), []string{"will stop working on Friday 20 March 2026"}},
		{item(health.Healthy, health.PasswordChangeWarning, &deadline, ""), []string{"change your password by Friday 20 March 2026"}},
		{item(health.LoginRequired, "", nil, "Please update your password <now>"), []string{`Details: "Please update your password <now>"`}},
	}
	for _, tc := range cases {
		for _, ch := range ChannelNames() {
			m, err := tpl.Render(ch, "Acme Support", u, []Item{tc.it})
			if err != nil {
				t.Fatalf("%s %s: %v", tc.it.Topic(), ch, err)
			}
			if !strings.Contains(m.Text, tc.it.Link) {
				t.Errorf("%s %s: no durable link in\n%s", tc.it.Topic(), ch, m.Text)
			}
			for _, w := range tc.want {
				if ch == SMS && strings.HasPrefix(w, "Details") {
					continue // the SMS leaves the provider's note out
				}
				if !strings.Contains(m.Text, w) {
					t.Errorf("%s %s: text lacks %q:\n%s", tc.it.Topic(), ch, w, m.Text)
				}
			}
			if ch == Email {
				if !strings.Contains(m.HTML, `href="https://relink.example.com/r/TICKET-1"`) || m.Subject == "" {
					t.Errorf("%s: html/subject: %q\n%s", tc.it.Topic(), m.Subject, m.HTML)
				}
				if strings.Contains(m.HTML, "<now>") {
					t.Errorf("the provider's message is not escaped in HTML")
				}
			}
		}
	}
	m, _ := tpl.Render(Email, "Acme Support", u, []Item{item(health.AccountLocked, "", nil, "")})
	if m.Subject != "Your Tartan Bank account is locked: unlock it, then reconnect" {
		t.Errorf("subject %q", m.Subject)
	}
	m, _ = tpl.Render(Email, "Acme Support", u, []Item{item(health.Healthy, health.ConsentExpiring, &deadline, "")})
	if !strings.Contains(m.Subject, "stops working on Friday 20 March 2026") {
		t.Errorf("a warning's subject names its deadline: %q", m.Subject)
	}
}

func TestOneMessageCoversSeveralConnections(t *testing.T) {
	tpl, _ := LoadTemplates("")
	a := item(health.AccountLocked, "", nil, "")
	b := item(health.LoginRequired, "", nil, "")
	b.Institution, b.Link = "Banco Azul", "https://relink.example.com/r/TICKET-2"
	m, err := tpl.Render(Email, "Acme Support", User{Name: "Ana"}, []Item{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "Action needed: 2 of your connected accounts need you" {
		t.Errorf("subject %q", m.Subject)
	}
	for _, want := range []string{"Hello Ana", "Tartan Bank (Account locked)", "Banco Azul (Login required)", a.Link, b.Link} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("text lacks %q:\n%s", want, m.Text)
		}
	}
	if !m.Expires.Equal(a.LinkExpires) {
		t.Errorf("expires %v", m.Expires)
	}
	sms, _ := tpl.Render(SMS, "Acme Support", User{}, []Item{a, b})
	if !strings.HasPrefix(sms.Text, "Acme Support: ") || !strings.Contains(sms.Text, a.Link) || !strings.Contains(sms.Text, b.Link) || sms.Subject != "" {
		t.Errorf("sms %q", sms.Text)
	}
}

func write(t *testing.T, dir, name, body string) {
	t.Helper()
	p := filepath.Join(dir, name)
	os.MkdirAll(filepath.Dir(p), 0o700)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestTemplatesOverriddenFromADirectory(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "steps/account_locked.txt", "Call {{.Institution}} on 0800 123 to unlock, then use the link.")
	write(t, dir, "email_subject.txt", "Acme: please reconnect")
	write(t, dir, ".DS_Store", "junk")
	tpl, err := LoadTemplates(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := tpl.Render(Email, "Acme", User{}, []Item{item(health.AccountLocked, "", nil, "")})
	if m.Subject != "Acme: please reconnect" || !strings.Contains(m.Text, "Call Tartan Bank on 0800 123") {
		t.Fatalf("override not used: %q\n%s", m.Subject, m.Text)
	}
	// Others keep their defaults.
	m, _ = tpl.Render(Email, "Acme", User{}, []Item{item(health.PasswordExpired, "", nil, "")})
	if !strings.Contains(m.Text, "First reset your password") {
		t.Fatalf("default lost:\n%s", m.Text)
	}
	if _, err := LoadTemplates(filepath.Join(dir, "missing")); err != nil {
		t.Fatalf("a missing directory means defaults: %v", err)
	}
}

func TestBadTemplatesAreStartUpErrorsNamingTheFile(t *testing.T) {
	cases := []struct{ file, body, want string }{
		{"steps/password_expired.txt", "Reset {{.Institution", "unclosed action"},
		{"email.txt", "Hi {{.User.Nickname}} {{range .Items}}{{.Link}}{{end}}", "Nickname"},
		{"sms.txt", "{{.Sender}}: {{date}}", "date"},
		{"email.html", "<p>{{range .Items}}{{.Steps}}{{end}}</p>", "leaves out an item's link"},
		{"sms.txt", "{{.Sender}}: reconnect soon", "leaves out an item's link"},
		{"email_subject.txt", "{{/* nothing */}}", "empty subject"},
		{"steps/acount_locked.txt", "x", "not a template relink knows"},
	}
	for _, tc := range cases {
		dir := t.TempDir()
		write(t, dir, tc.file, tc.body)
		_, err := LoadTemplates(dir)
		if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, tc.file)) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %q: error %v; want the file's path and %q", tc.file, tc.body, err, tc.want)
		}
	}
}

func TestLongSMSIsAPermanentFailure(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "sms.txt", `{{.Sender}}: {{range .Items}}{{.Link}}{{end}}{{range $i, $x := .Items}}{{if false}}{{end}}{{end}}`+strings.Repeat("x", 1700))
	tpl, err := LoadTemplates(dir)
	if err == nil {
		_, err = tpl.Render(SMS, "A", User{}, []Item{item(health.LoginRequired, "", nil, "")})
	}
	if err == nil || !strings.Contains(err.Error(), "1600") {
		t.Fatalf("long sms: %v", err)
	}
}

func TestKeyIsStableAndOrderFree(t *testing.T) {
	a := Key(Email, []int64{3, 1, 2}, 42)
	if a != Key(Email, []int64{1, 2, 3}, 42) {
		t.Fatal("key depends on order")
	}
	for _, other := range []string{Key(SMS, []int64{1, 2, 3}, 42), Key(Email, []int64{1, 2}, 42), Key(Email, []int64{1, 2, 3}, 43)} {
		if other == a {
			t.Fatal("distinct messages share a key")
		}
	}
	day := 24 * time.Hour
	t0 := time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)
	if Window(t0, day) != Window(t0.Add(20*time.Hour), day) || Window(t0, day) == Window(t0.Add(24*time.Hour), day) {
		t.Fatal("cooldown windows")
	}
	if Window(t0, 0) == Window(t0.Add(time.Nanosecond), 0) {
		t.Fatal("without a cooldown each plan is its own window")
	}
}
