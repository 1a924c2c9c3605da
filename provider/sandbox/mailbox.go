package sandbox

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/relink/relink/config"
)

// Mail is one message a Mailbox received.
type Mail struct {
	Seq        int // its number: 1 for the first message the mailbox received
	From       string
	To         []string // envelope recipients
	Subject    string
	MessageID  string
	Text, HTML string // decoded parts
	Size       int
	ReceivedAt time.Time
}

// MailboxOptions configure a Mailbox.
type MailboxOptions struct {
	// Addr to listen on; default 127.0.0.1:0 (loopback, any port).
	Addr string
	// Username and Password, when set, require AUTH PLAIN.
	Username, Password string
	// TLS enables STARTTLS; with Implicit, the listener speaks TLS from the
	// first byte instead.
	TLS      *tls.Config
	Implicit bool
	// Keep is how many messages are kept (oldest dropped); default 10,000.
	Keep int
	// Reject, when set, is asked about every message after DATA; a non-nil
	// error (an *smtp.SMTPError for a code) refuses it. For tests.
	Reject func(from string, to []string) error
}

// Mailbox is an in-process SMTP server on loopback that keeps what it
// receives in memory: the demo's reminders go somewhere real, and tests
// read what arrived.
type Mailbox struct {
	srv  *smtp.Server
	ln   net.Listener
	opts MailboxOptions

	mu       sync.Mutex
	mails    []Mail
	total    int
	sessions int
	notify   chan struct{}
	serveErr chan error
	closed   sync.Once
	closeErr error
}

// StartMailbox listens and serves until Close.
func StartMailbox(o MailboxOptions) (*Mailbox, error) {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.Keep <= 0 {
		o.Keep = 10000
	}
	var ln net.Listener
	var err error
	if o.Implicit {
		if o.TLS == nil {
			return nil, errors.New("mailbox: implicit TLS needs a TLS config")
		}
		ln, err = tls.Listen("tcp", o.Addr, o.TLS)
	} else {
		ln, err = net.Listen("tcp", o.Addr)
	}
	if err != nil {
		return nil, fmt.Errorf("mailbox: listening on %s: %w", o.Addr, err)
	}
	m := &Mailbox{ln: ln, opts: o, notify: make(chan struct{}), serveErr: make(chan error, 1)}
	s := smtp.NewServer(m)
	s.Domain = "localhost"
	s.ReadTimeout, s.WriteTimeout = time.Minute, time.Minute
	s.MaxMessageBytes = 1 << 20
	s.MaxRecipients = 50
	s.ErrorLog = log.New(io.Discard, "", 0)
	if o.TLS != nil && !o.Implicit {
		s.TLSConfig = o.TLS
	}
	m.srv = s
	go func() { m.serveErr <- s.Serve(ln) }()
	return m, nil
}

// Addr is the listening address, host:port.
func (m *Mailbox) Addr() string { return m.ln.Addr().String() }

// EmailConfig is [reminders.email] pointing at this mailbox (no TLS, no
// AUTH unless the mailbox asks for it), sending as from.
func (m *Mailbox) EmailConfig(from string) config.Email {
	host, port, _ := net.SplitHostPort(m.Addr())
	p, _ := strconv.Atoi(port)
	mode := "none"
	switch {
	case m.opts.Implicit:
		mode = "tls"
	case m.opts.TLS != nil:
		mode = "starttls"
	}
	return config.Email{SMTPHost: host, SMTPPort: p, From: from, TLS: mode, Username: m.opts.Username, Password: m.opts.Password}
}

// Messages returns a copy of the kept messages, oldest first.
func (m *Mailbox) Messages() []Mail {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Mail, len(m.mails))
	copy(out, m.mails)
	return out
}

// Message returns the kept message numbered seq (Mail.Seq).
func (m *Mailbox) Message(seq int) (Mail, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	// Seqs are consecutive, the oldest kept first.
	if len(m.mails) == 0 {
		return Mail{}, false
	}
	i := seq - m.mails[0].Seq
	if i < 0 || i >= len(m.mails) {
		return Mail{}, false
	}
	return m.mails[i], true
}

// Count is how many messages arrived since the start (kept or not).
func (m *Mailbox) Count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.total
}

// Wait blocks until at least n messages have arrived or timeout passes,
// and reports whether they did.
func (m *Mailbox) Wait(n int, timeout time.Duration) bool {
	deadline := time.After(timeout)
	for {
		m.mu.Lock()
		total, ch := m.total, m.notify
		m.mu.Unlock()
		if total >= n {
			return true
		}
		select {
		case <-ch:
		case <-deadline:
			return false
		}
	}
}

// Close stops the server; closing again does nothing.
func (m *Mailbox) Close() error {
	m.closed.Do(func() {
		err := m.srv.Close()
		m.ln.Close() // Serve may not have registered it yet
		<-m.serveErr
		if !errors.Is(err, smtp.ErrServerClosed) {
			m.closeErr = err
		}
	})
	return m.closeErr
}

func (m *Mailbox) deliver(ml Mail) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.total++
	ml.Seq = m.total
	m.mails = append(m.mails, ml)
	if len(m.mails) > m.opts.Keep {
		m.mails = append(m.mails[:0:0], m.mails[len(m.mails)-m.opts.Keep:]...)
	}
	close(m.notify)
	m.notify = make(chan struct{})
}

// Sessions is how many SMTP connections were opened to the mailbox.
func (m *Mailbox) Sessions() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sessions
}

// NewSession implements smtp.Backend.
func (m *Mailbox) NewSession(*smtp.Conn) (smtp.Session, error) {
	m.mu.Lock()
	m.sessions++
	m.mu.Unlock()
	return &mailSession{box: m}, nil
}

type mailSession struct {
	box    *Mailbox
	authed bool
	from   string
	to     []string
}

func (s *mailSession) AuthMechanisms() []string {
	if s.box.opts.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *mailSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != s.box.opts.Username || password != s.box.opts.Password {
			return smtp.ErrAuthFailed
		}
		s.authed = true
		return nil
	}), nil
}

func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.box.opts.Username != "" && !s.authed {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *mailSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if s.box.opts.Reject != nil {
		if err := s.box.opts.Reject(s.from, s.to); err != nil {
			return err
		}
	}
	ml := parseMail(raw)
	ml.From, ml.To, ml.Size, ml.ReceivedAt = s.from, append([]string(nil), s.to...), len(raw), time.Now()
	s.box.deliver(ml)
	return nil
}

func (s *mailSession) Reset()        { s.from, s.to = "", nil }
func (s *mailSession) Logout() error { return nil }

// parseMail reads the subject, Message-ID and the text and HTML parts of
// a (possibly multipart) message, decoding transfer encodings.
func parseMail(raw []byte) Mail {
	var ml Mail
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		ml.Text = string(raw)
		return ml
	}
	dec := new(mime.WordDecoder)
	if subj, err := dec.DecodeHeader(msg.Header.Get("Subject")); err == nil {
		ml.Subject = subj
	}
	ml.MessageID = strings.Trim(msg.Header.Get("Message-ID"), "<>")
	readPart(&ml, msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
	return ml
}

func readPart(ml *Mail, ctype, cte string, body io.Reader) {
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		mt = "text/plain"
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				return
			}
			readPart(ml, p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p)
		}
	}
	switch strings.ToLower(cte) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64Reader(body)
	}
	b, _ := io.ReadAll(body)
	switch mt {
	case "text/html":
		ml.HTML = string(b)
	case "text/plain":
		ml.Text = string(b)
	}
}

// base64Reader decodes a MIME base64 body, whose lines are broken.
func base64Reader(r io.Reader) io.Reader {
	b, _ := io.ReadAll(r)
	clean := strings.Map(func(c rune) rune {
		if c == '\r' || c == '\n' || c == ' ' {
			return -1
		}
		return c
	}, string(b))
	return base64.NewDecoder(base64.StdEncoding, strings.NewReader(clean))
}
