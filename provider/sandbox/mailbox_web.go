package sandbox

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The mailbox's web page: what the demo's reminders look like to the user
// who gets them. The list shows the messages newest first (to, subject,
// time), each opens to its body with its links clickable, so a newcomer
// clicks the reconnect link in the email and watches the connection heal.
// Everything from a message is escaped (html/template); only http and https
// addresses become links. It listens on loopback and answers only requests
// addressed to it by that address, so a page elsewhere that points a name
// of its own at 127.0.0.1 (DNS rebinding) cannot read the mail.

// MailboxPage is a Mailbox's web page, served until Close.
type MailboxPage struct {
	box  *Mailbox
	ln   net.Listener
	srv  *http.Server
	done chan error
}

// ServePage serves m's web page on addr ("" is 127.0.0.1 and any free port).
func (m *Mailbox) ServePage(addr string) (*MailboxPage, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("mailbox: listening for its web page on %s: %w", addr, err)
	}
	p := &MailboxPage{box: m, ln: ln, done: make(chan error, 1)}
	p.srv = &http.Server{Handler: p.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { p.done <- p.srv.Serve(ln) }()
	return p, nil
}

// URL is the page's address, http://127.0.0.1:port/.
func (p *MailboxPage) URL() string { return "http://" + p.ln.Addr().String() + "/" }

// Close stops the page.
func (p *MailboxPage) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := p.srv.Shutdown(ctx)
	if serr := <-p.done; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// Handler answers GET / (the list) and GET /m/{seq} (one message), for
// requests whose Host is the page's own address.
func (p *MailboxPage) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", p.list)
	mux.HandleFunc("GET /m/{seq}", p.message)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host != p.ln.Addr().String() {
			http.Error(w, "this mailbox answers at "+p.URL()+" only", http.StatusMisdirectedRequest)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		mux.ServeHTTP(w, r)
	})
}

// mailRow is one line of the list.
type mailRow struct {
	Seq                int
	To, Subject, Count string
	At                 string
}

func (p *MailboxPage) list(w http.ResponseWriter, r *http.Request) {
	mails := p.box.Messages()
	slices.Reverse(mails)
	rows := make([]mailRow, len(mails))
	for i, ml := range mails {
		rows[i] = mailRow{Seq: ml.Seq, To: strings.Join(ml.To, ", "), Subject: ml.Subject, At: ml.ReceivedAt.Format("2006-01-02 15:04:05")}
	}
	render(w, mailboxList, map[string]any{"Rows": rows, "Addr": p.box.Addr()})
}

// mailView is one message as its page shows it.
type mailView struct {
	Mail
	At    string
	Body  []bodyPart // the text part, with its links
	Links []mailLink // every link of the message, the text's and the HTML part's
}

// mailLink is a link of a message as its button shows it.
type mailLink struct{ URL, Label string }

// linkLabel is a link's button text: its host and the start of its path
// ("127.0.0.1:8080/r/eyJpIjoid1…"); a durable link's ticket is long.
func linkLabel(u string) string {
	s := strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://")
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}

// bodyPart is a run of a message's text: a link when URL is set.
type bodyPart struct{ Text, URL string }

func (p *MailboxPage) message(w http.ResponseWriter, r *http.Request) {
	seq, err := strconv.Atoi(r.PathValue("seq"))
	ml, ok := p.box.Message(seq)
	if err != nil || !ok {
		w.WriteHeader(http.StatusNotFound)
		render(w, mailboxGone, nil)
		return
	}
	text := ml.Text
	if text == "" {
		text = ml.HTML // shown as its source, escaped: this page never renders a message's HTML
	}
	v := mailView{Mail: ml, At: ml.ReceivedAt.Format("2006-01-02 15:04:05"), Body: linkify(text)}
	add := func(u string) {
		if !slices.ContainsFunc(v.Links, func(l mailLink) bool { return l.URL == u }) {
			v.Links = append(v.Links, mailLink{URL: u, Label: linkLabel(u)})
		}
	}
	for _, part := range v.Body {
		if part.URL != "" {
			add(part.URL)
		}
	}
	for _, m := range hrefRE.FindAllStringSubmatch(ml.HTML, -1) {
		if template.HTMLEscapeString(m[1]) == m[1] {
			add(m[1]) // an href with an entity in it is left out, not guessed at
		}
	}
	render(w, mailboxMessage, v)
}

var (
	urlRE  = regexp.MustCompile(`https?://[^\s<>"'` + "`" + `]+`)
	hrefRE = regexp.MustCompile(`href="(https?://[^"]+)"`)
)

// linkify splits text into runs, each http(s) address a link (without the
// punctuation that ends a sentence after it).
func linkify(text string) []bodyPart {
	var out []bodyPart
	at := 0
	for _, loc := range urlRE.FindAllStringIndex(text, -1) {
		u := strings.TrimRight(text[loc[0]:loc[1]], ".,;:!?)]")
		end := loc[0] + len(u)
		if loc[0] > at {
			out = append(out, bodyPart{Text: text[at:loc[0]]})
		}
		out = append(out, bodyPart{Text: u, URL: u})
		at = end
	}
	if at < len(text) {
		out = append(out, bodyPart{Text: text[at:]})
	}
	return out
}

func render(w http.ResponseWriter, t *template.Template, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := t.Execute(w, data); err != nil {
		fmt.Fprintf(w, "<p>rendering the page: %s</p>", template.HTMLEscapeString(err.Error()))
	}
}

const mailboxStyle = `<style>
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#1c1917;line-height:1.45}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.4rem .6rem;border-bottom:1px solid #e7e5e4;vertical-align:top}
th{font-weight:600;color:#57534e}td.at{white-space:nowrap;color:#57534e}small,.meta{color:#57534e}
pre{white-space:pre-wrap;word-break:break-word;background:#fafaf9;border:1px solid #e7e5e4;border-radius:6px;padding:1rem;font:inherit}
a.button{display:inline-block;background:#1d4ed8;color:#fff;text-decoration:none;padding:.5rem 1rem;border-radius:6px;margin:.2rem 0;word-break:break-all}
</style>`

var (
	mailboxList = template.Must(template.New("list").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5"><title>Demo mailbox</title>` + mailboxStyle + `</head>
<body><h1>Demo mailbox</h1>
<p class="meta">The reminders the demo sent by email (to its SMTP server on {{.Addr}}), newest first; the page reloads every 5 seconds.
Open a message and click its reconnect link to repair the connection, then watch it heal in the dashboard.</p>
{{if .Rows}}<table><thead><tr><th>To</th><th>Subject</th><th>Received</th></tr></thead><tbody>
{{range .Rows}}<tr><td>{{.To}}</td><td><a href="/m/{{.Seq}}">{{.Subject}}</a></td><td class="at">{{.At}}</td></tr>
{{end}}</tbody></table>
{{else}}<p><strong>No messages yet.</strong> Send a reminder from the dashboard: its remind key (r by default) on a failing row, then confirm.</p>{{end}}
</body></html>`))

	mailboxMessage = template.Must(template.New("message").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Subject}} · demo mailbox</title>` + mailboxStyle + `</head>
<body><p><a href="/">← all messages</a></p>
<h1>{{.Subject}}</h1>
<p class="meta">From {{.From}} · to {{range $i, $t := .To}}{{if $i}}, {{end}}{{$t}}{{end}} · {{.At}}</p>
{{if .Links}}<p>{{range .Links}}<a class="button" href="{{.URL}}">Open {{.Label}}</a><br>{{end}}</p>{{end}}
<pre>{{range .Body}}{{if .URL}}<a href="{{.URL}}">{{.Text}}</a>{{else}}{{.Text}}{{end}}{{end}}</pre>
</body></html>`))

	mailboxGone = template.Must(template.New("gone").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>No such message · demo mailbox</title>` + mailboxStyle + `</head>
<body><p><a href="/">← all messages</a></p><h1>No such message</h1><p>It was never received, or the mailbox no longer keeps it.</p></body></html>`))
)
