package remind

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
	gosmtp "github.com/wneessen/go-mail/smtp"

	"github.com/relink/relink/config"
)

// EmailOptions configure the SMTP channel: [reminders.email] plus what
// tests and the demo need.
type EmailOptions struct {
	config.Email
	// TLSConfig overrides the TLS settings (a test's own CA); the server
	// name defaults to SMTPHost.
	TLSConfig *tls.Config
	// Timeout bounds connecting and each SMTP command; default 30s.
	Timeout time.Duration
	// Pool is how many idle connections are kept for reuse; default 16.
	Pool int
}

// EmailChannel sends reminders over SMTP (STARTTLS, implicit TLS or
// none; AUTH when a username is set), reusing connections across sends.
type EmailChannel struct {
	client *gomail.Client
	from   *mail.Address
	desc   string // host:port (tls), for errors
	idle   chan *gosmtp.Client
	// plain, with tls = "none" and a username, connects without AUTH to
	// read the server's EHLO when a connection fails: most servers offer
	// no AUTH without TLS, which deserves saying in those words.
	plain *gomail.Client
}

// NewEmail checks the settings and returns the channel; it does not
// connect until the first send.
func NewEmail(o EmailOptions) (*EmailChannel, error) {
	if o.From == "" {
		return nil, errors.New("email reminders need reminders.email.from (e.g. \"Acme Support <support@acme.example>\")")
	}
	from, err := mail.ParseAddress(o.From)
	if err != nil {
		return nil, fmt.Errorf("reminders.email.from %q is not an address: %w", o.From, err)
	}
	if o.SMTPHost == "" {
		return nil, errors.New("email reminders need reminders.email.smtp_host")
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Pool <= 0 {
		o.Pool = 16
	}
	tc := o.TLSConfig
	if tc == nil {
		tc = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	tc = tc.Clone()
	if tc.ServerName == "" {
		tc.ServerName = o.SMTPHost
	}
	opts := []gomail.Option{gomail.WithTimeout(o.Timeout), gomail.WithTLSConfig(tc)}
	switch o.TLS {
	case "", "starttls":
		opts = append(opts, gomail.WithTLSPortPolicy(gomail.TLSMandatory))
	case "tls":
		opts = append(opts, gomail.WithSSL())
	case "none":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		return nil, fmt.Errorf("reminders.email.tls %q: want starttls, tls or none", o.TLS)
	}
	if o.SMTPPort > 0 { // WithTLSPortPolicy/WithSSL pick the default port; the configured one wins
		opts = append(opts, gomail.WithPort(o.SMTPPort))
	}
	var plain *gomail.Client
	if o.TLS == "none" && o.Username != "" {
		var err error
		if plain, err = gomail.NewClient(o.SMTPHost, opts...); err != nil {
			return nil, fmt.Errorf("reminders.email: %w", err)
		}
	}
	if o.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(o.Username), gomail.WithPassword(o.Password))
	}
	c, err := gomail.NewClient(o.SMTPHost, opts...)
	if err != nil {
		return nil, fmt.Errorf("reminders.email: %w", err)
	}
	mode := o.TLS
	if mode == "" {
		mode = "starttls"
	}
	return &EmailChannel{client: c, from: from, idle: make(chan *gosmtp.Client, o.Pool), plain: plain,
		desc: c.ServerAddr() + " (" + mode + ")"}, nil
}

// Name is "email".
func (e *EmailChannel) Name() string { return Email }

// Sender is the From display name ("Acme Support"), or the address.
func (e *EmailChannel) Sender() string {
	if e.from.Name != "" {
		return e.from.Name
	}
	return e.from.Address
}

// Send delivers m: a multipart/alternative message (text and HTML) whose
// Message-ID is derived from the idempotency key, so a duplicate after a
// crash is recognisable downstream.
func (e *EmailChannel) Send(ctx context.Context, m Message) error {
	msg, err := e.build(m)
	if err != nil {
		return Permanent(err)
	}
	for try := 0; ; try++ {
		sc, fresh, err := e.conn(ctx)
		if err != nil {
			return err
		}
		err = e.client.SendWithSMTPClient(sc, msg)
		if err == nil {
			e.put(sc)
			return nil
		}
		_ = e.client.CloseWithSMTPClient(sc)
		var se *gomail.SendError
		// An idle connection the server has dropped fails its check
		// before anything is sent: dial again, once.
		if errors.As(err, &se) && se.Reason == gomail.ErrConnCheck && !fresh && try == 0 {
			continue
		}
		return e.classify(err)
	}
}

func (e *EmailChannel) build(m Message) (*gomail.Msg, error) {
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	msg.FromMailAddress(e.from)
	if err := msg.AddToFormat(m.User.Name, m.To); err != nil {
		return nil, fmt.Errorf("recipient %q: %w", m.To, err)
	}
	msg.Subject(m.Subject)
	domain := e.from.Address[strings.LastIndex(e.from.Address, "@")+1:]
	msg.SetMessageIDWithValue(m.Key + "@" + domain)
	msg.SetDate()
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// conn takes an idle connection or dials a new one.
func (e *EmailChannel) conn(ctx context.Context) (*gosmtp.Client, bool, error) {
	select {
	case sc := <-e.idle:
		return sc, false, nil
	default:
	}
	sc, err := e.client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, true, Transient(fmt.Errorf("connecting to %s: %w", e.desc, ctx.Err()))
		}
		if why := e.noAuthWithoutTLS(ctx); why != "" {
			return nil, true, Unavailable(errors.New(why))
		}
		return nil, true, Unavailable(fmt.Errorf("connecting to SMTP server %s: %w; check reminders.email (smtp_host, smtp_port, tls, username, password)", e.desc, err))
	}
	return sc, true, nil
}

// authWithoutTLS are the mechanisms go-mail uses on an unencrypted
// connection: none that sends the password as it is (PLAIN, LOGIN).
var authWithoutTLS = []string{"SCRAM-SHA-256", "SCRAM-SHA-1", "NTLM", "CRAM-MD5"}

// noAuthWithoutTLS explains a failed connection with tls = "none" and a
// username when the server's EHLO offers no AUTH we would use in the
// clear; "" when it does (the failure was something else) or it cannot
// be asked.
func (e *EmailChannel) noAuthWithoutTLS(ctx context.Context) string {
	if e.plain == nil {
		return ""
	}
	sc, err := e.plain.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return ""
	}
	defer e.plain.CloseWithSMTPClient(sc)
	fix := `set reminders.email.tls = "starttls" (or "tls" if the server speaks TLS from the first byte, usually on port 465)`
	has, mechs := sc.Extension("AUTH")
	if !has {
		return fmt.Sprintf("SMTP server %s offers no AUTH without TLS, and reminders.email.username is set: %s", e.desc, fix)
	}
	for _, m := range strings.Fields(mechs) {
		if slices.Contains(authWithoutTLS, strings.ToUpper(m)) {
			return ""
		}
	}
	return fmt.Sprintf("SMTP server %s offers AUTH without TLS only as %s, which would send the password in the clear: %s",
		e.desc, mechs, fix)
}

func (e *EmailChannel) put(sc *gosmtp.Client) {
	select {
	case e.idle <- sc:
	default:
		_ = e.client.CloseWithSMTPClient(sc)
	}
}

// classify sorts an SMTP failure: 4xx and broken connections may pass, a
// 5xx for the recipient or the content is this message's, a 5xx for our
// sender address is the channel's.
func (e *EmailChannel) classify(err error) error {
	err = fmt.Errorf("SMTP %s: %w", e.desc, err)
	var se *gomail.SendError
	if !errors.As(err, &se) {
		return Transient(err)
	}
	if se.IsTemp() || se.ErrorCode() == 0 {
		return Transient(err)
	}
	if se.Reason == gomail.ErrSMTPMailFrom {
		return Unavailable(fmt.Errorf("%w; the server refuses our sender address: check reminders.email.from", err))
	}
	return Permanent(err)
}

// Close closes the idle connections.
func (e *EmailChannel) Close() error {
	for {
		select {
		case sc := <-e.idle:
			_ = e.client.CloseWithSMTPClient(sc)
		default:
			return nil
		}
	}
}
