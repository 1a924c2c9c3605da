package remind

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/relink/relink/provider/sandbox"
)

const from = "Acme Support <support@acme.example>"

func startBox(t *testing.T, o sandbox.MailboxOptions) *sandbox.Mailbox {
	t.Helper()
	mb, err := sandbox.StartMailbox(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mb.Close() })
	return mb
}

func emailTo(t *testing.T, o EmailOptions) *EmailChannel {
	t.Helper()
	ch, err := NewEmail(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Close() })
	return ch
}

func checkArrived(t *testing.T, mb *sandbox.Mailbox, m Message) {
	t.Helper()
	if !mb.Wait(1, 5*time.Second) {
		t.Fatal("nothing arrived")
	}
	got := mb.Messages()[0]
	if len(got.To) != 1 || got.To[0] != "ana@example.com" || got.From != "support@acme.example" {
		t.Errorf("envelope %v from %q", got.To, got.From)
	}
	if got.Subject != m.Subject || got.Subject == "" {
		t.Errorf("subject %q, want %q", got.Subject, m.Subject)
	}
	if got.MessageID != m.Key+"@acme.example" {
		t.Errorf("Message-ID %q", got.MessageID)
	}
	for _, it := range m.Items {
		if !strings.Contains(got.Text, it.Link) || !strings.Contains(got.HTML, it.Link) {
			t.Errorf("the durable link %s is not in the text and HTML bodies:\n%s", it.Link, got.Text)
		}
	}
	if !strings.Contains(got.Text, "First unlock it with First Platypus Bank") {
		t.Errorf("text body:\n%s", got.Text)
	}
}

func TestEmailOverSTARTTLSWithAuth(t *testing.T) {
	srvTLS, cliTLS := testTLS(t)
	mb := startBox(t, sandbox.MailboxOptions{TLS: srvTLS, Username: "relink", Password: "s3cret-smtp-pw"})
	cfg := mb.EmailConfig(from)
	if cfg.TLS != "starttls" || cfg.Username != "relink" {
		t.Fatalf("config %+v", cfg)
	}
	ch := emailTo(t, EmailOptions{Email: cfg, TLSConfig: cliTLS})
	m := sampleMessage(t, Email, "ana@example.com")
	if err := ch.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	checkArrived(t, mb, m)
	if ch.Sender() != "Acme Support" {
		t.Errorf("sender %q", ch.Sender())
	}
}

func TestEmailOverImplicitTLS(t *testing.T) {
	srvTLS, cliTLS := testTLS(t)
	mb := startBox(t, sandbox.MailboxOptions{TLS: srvTLS, Implicit: true, Username: "relink", Password: "pw-implicit"})
	ch := emailTo(t, EmailOptions{Email: mb.EmailConfig(from), TLSConfig: cliTLS})
	m := sampleMessage(t, Email, "ana@example.com")
	if err := ch.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	checkArrived(t, mb, m)
}

func TestEmailWithoutTLSReusesConnectionsConcurrently(t *testing.T) {
	mb := startBox(t, sandbox.MailboxOptions{})
	ch := emailTo(t, EmailOptions{Email: mb.EmailConfig(from), Pool: 4})
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				m := sampleMessage(t, Email, fmt.Sprintf("user%d-%d@example.com", w, i))
				errs <- ch.Send(context.Background(), m)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if mb.Count() != 100 {
		t.Fatalf("%d arrived", mb.Count())
	}
	if sessions := mb.Sessions(); sessions > 8 {
		t.Errorf("%d SMTP sessions for 100 messages over 4 workers: connections are not reused", sessions)
	}
}

func TestEmailFailuresAreClassifiedWithoutSecrets(t *testing.T) {
	ctx := context.Background()
	srvTLS, cliTLS := testTLS(t)
	mb := startBox(t, sandbox.MailboxOptions{TLS: srvTLS, Username: "relink", Password: "right-pw",
		Reject: func(_ string, to []string) error {
			switch to[0] {
			case "gone@example.com":
				return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "mailbox unavailable"}
			case "busy@example.com":
				return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
			}
			return nil
		}})
	good := EmailOptions{Email: mb.EmailConfig(from), TLSConfig: cliTLS}
	ch := emailTo(t, good)

	err := ch.Send(ctx, sampleMessage(t, Email, "gone@example.com"))
	if KindOf(err) != KindPermanent || !strings.Contains(err.Error(), "550") {
		t.Errorf("550: %v (kind %d)", err, KindOf(err))
	}
	err = ch.Send(ctx, sampleMessage(t, Email, "busy@example.com"))
	if KindOf(err) != KindTransient || !strings.Contains(err.Error(), "451") {
		t.Errorf("451: %v (kind %d)", err, KindOf(err))
	}

	bad := good
	bad.Password = "wrong-pw-SECRET"
	err = emailTo(t, bad).Send(ctx, sampleMessage(t, Email, "ana@example.com"))
	if KindOf(err) != KindUnavailable || strings.Contains(err.Error(), "wrong-pw-SECRET") || !strings.Contains(err.Error(), "reminders.email") {
		t.Errorf("bad password: %v (kind %d)", err, KindOf(err))
	}

	plain := startBox(t, sandbox.MailboxOptions{}) // offers no STARTTLS
	o := EmailOptions{Email: plain.EmailConfig(from)}
	o.TLS = "starttls"
	err = emailTo(t, o).Send(ctx, sampleMessage(t, Email, "ana@example.com"))
	if KindOf(err) != KindUnavailable || plain.Count() != 0 {
		t.Errorf("STARTTLS required but not offered: %v (kind %d), %d sent in the clear", err, KindOf(err), plain.Count())
	}

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().(*net.TCPAddr)
	ln.Close()
	o = EmailOptions{Email: plain.EmailConfig(from), Timeout: 2 * time.Second}
	o.SMTPPort = addr.Port
	err = emailTo(t, o).Send(ctx, sampleMessage(t, Email, "ana@example.com"))
	if KindOf(err) != KindUnavailable || !strings.Contains(err.Error(), "connecting to SMTP server") {
		t.Errorf("server down: %v (kind %d)", err, KindOf(err))
	}

	if _, err := NewEmail(EmailOptions{}); err == nil || !strings.Contains(err.Error(), "reminders.email.from") {
		t.Errorf("no from: %v", err)
	}
}

// With tls = "none" and a username, a server that (like most) offers no
// AUTH before TLS is named as such, with what to set, not with the SMTP
// library's words; one that offers only PLAIN in the clear likewise.
func TestEmailAuthWithoutTLSSaysWhatToSet(t *testing.T) {
	ctx := context.Background()
	mb := startBox(t, sandbox.MailboxOptions{Username: "relink", Password: "pw-SECRET"}) // AUTH, no TLS
	cfg := mb.EmailConfig(from)
	if cfg.TLS != "none" || cfg.Username == "" {
		t.Fatalf("config %+v", cfg)
	}
	err := emailTo(t, EmailOptions{Email: cfg}).Send(ctx, sampleMessage(t, Email, "ana@example.com"))
	t.Logf("no AUTH offered: %v", err)
	if KindOf(err) != KindUnavailable || err == nil || mb.Count() != 0 {
		t.Fatalf("no AUTH without TLS: %v (kind %d), %d sent", err, KindOf(err), mb.Count())
	}
	msg := err.Error()
	for _, want := range []string{"offers no AUTH without TLS", mb.Addr(), `tls = "starttls"`, `"tls"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q does not say %q", msg, want)
		}
	}
	if strings.Contains(msg, "does not support SMTP AUTH") || strings.Contains(msg, "pw-SECRET") {
		t.Errorf("%q: the library's words, or the password", msg)
	}

	// A server that offers PLAIN in the clear: relink will not send the
	// password that way, and says so.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	insecure := smtp.NewServer(mb)
	insecure.Domain, insecure.AllowInsecureAuth = "localhost", true
	go insecure.Serve(ln)
	t.Cleanup(func() { insecure.Close() })
	o := EmailOptions{Email: cfg}
	o.SMTPPort = ln.Addr().(*net.TCPAddr).Port
	err = emailTo(t, o).Send(ctx, sampleMessage(t, Email, "ana@example.com"))
	t.Logf("PLAIN in the clear: %v", err)
	if KindOf(err) != KindUnavailable || err == nil || !strings.Contains(err.Error(), "only as PLAIN") ||
		!strings.Contains(err.Error(), `tls = "starttls"`) || strings.Contains(err.Error(), "pw-SECRET") || mb.Count() != 0 {
		t.Errorf("PLAIN without TLS: %v (kind %d), %d sent", err, KindOf(err), mb.Count())
	}

	// The check does not get in the way of a right configuration.
	good := startBox(t, sandbox.MailboxOptions{})
	if err := emailTo(t, EmailOptions{Email: good.EmailConfig(from)}).Send(ctx, sampleMessage(t, Email, "ana@example.com")); err != nil {
		t.Errorf("no TLS, no AUTH: %v", err)
	}
}
