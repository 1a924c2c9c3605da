package sandbox

import (
	"io"
	"net/http"
	"net/smtp"
	"strings"
	"testing"
	"time"
)

// sendMail delivers one plain-text message to box over SMTP.
func sendMail(t *testing.T, box *Mailbox, to, subject, body string) {
	t.Helper()
	msg := "From: Demo Support <support@demo.invalid>\r\nTo: " + to + "\r\nSubject: " + subject +
		"\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + strings.ReplaceAll(body, "\n", "\r\n") + "\r\n"
	if err := smtp.SendMail(box.Addr(), nil, "support@demo.invalid", []string{to}, []byte(msg)); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, url, host string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if host != "" {
		req.Host = host
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func startPage(t *testing.T) (*Mailbox, *MailboxPage) {
	t.Helper()
	box, err := StartMailbox(MailboxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { box.Close() })
	page, err := box.ServePage("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { page.Close() })
	return box, page
}

// TestMailboxPageListsNewestFirstAndOpensAMessageWithItsLinks: the list
// shows to, subject and time, newest first; a message's page shows its
// text with its http(s) addresses as links, and the addresses as buttons.
func TestMailboxPageListsNewestFirstAndOpensAMessageWithItsLinks(t *testing.T) {
	box, page := startPage(t)
	if !strings.HasPrefix(page.URL(), "http://127.0.0.1:") {
		t.Fatalf("the page is not on loopback: %s", page.URL())
	}
	_, empty := get(t, page.URL(), "")
	if !strings.Contains(empty, "No messages yet.") {
		t.Errorf("the empty mailbox says nothing useful:\n%s", empty)
	}
	sendMail(t, box, "ana@example.com", "Action needed: reconnect your Tartan Bank account",
		"Hello Ana,\n\nReconnect: http://127.0.0.1:9/r/TICKET-ONE.\nThis link works until Friday.")
	sendMail(t, box, "bruno@example.com", "Reset your Houndstooth Bank password, then reconnect", "Reconnect: https://relink.example/r/TWO")
	code, list := get(t, page.URL(), "")
	if code != 200 {
		t.Fatalf("list: %d\n%s", code, list)
	}
	bruno, ana := strings.Index(list, "bruno@example.com"), strings.Index(list, "ana@example.com")
	if bruno < 0 || ana < 0 || bruno > ana {
		t.Fatalf("not newest first (bruno at %d, ana at %d):\n%s", bruno, ana, list)
	}
	for _, want := range []string{`<a href="/m/1">Action needed: reconnect your Tartan Bank account</a>`, `<a href="/m/2">`,
		box.Messages()[0].ReceivedAt.Format("2006-01-02 15:04:05")} {
		if !strings.Contains(list, want) {
			t.Errorf("the list lacks %s:\n%s", want, list)
		}
	}
	code, msg := get(t, page.URL()+"m/1", "")
	if code != 200 {
		t.Fatalf("message: %d\n%s", code, msg)
	}
	for _, want := range []string{"From support@demo.invalid · to ana@example.com",
		`Reconnect: <a href="http://127.0.0.1:9/r/TICKET-ONE">http://127.0.0.1:9/r/TICKET-ONE</a>.`, // the full stop is not the link's
		`<a class="button" href="http://127.0.0.1:9/r/TICKET-ONE">Open 127.0.0.1:9/r/TICKET-ONE</a>`} {
		if !strings.Contains(msg, want) {
			t.Errorf("the message page lacks %s:\n%s", want, msg)
		}
	}
	if code, _ := get(t, page.URL()+"m/3", ""); code != http.StatusNotFound {
		t.Errorf("a message never received: %d", code)
	}
}

// TestMailboxPageEscapesTheMessage: markup in a subject, recipient or body
// is shown as text, and a javascript: address is no link.
func TestMailboxPageEscapesTheMessage(t *testing.T) {
	box, page := startPage(t)
	sendMail(t, box, "eve@example.com", `<script>alert(1)</script>`,
		"<img src=x onerror=alert(2)> javascript:alert(3) <a href=\"http://evil.example/\">x</a>")
	_, list := get(t, page.URL(), "")
	_, msg := get(t, page.URL()+"m/1", "")
	for name, s := range map[string]string{"list": list, "message": msg} {
		if strings.Contains(s, "<script>") || strings.Contains(s, "<img") || strings.Contains(s, `href="javascript`) {
			t.Errorf("the %s page lets markup from the message through:\n%s", name, s)
		}
	}
	if !strings.Contains(list, "&lt;script&gt;alert(1)&lt;/script&gt;") || !strings.Contains(msg, "&lt;img src=x onerror=alert(2)&gt;") {
		t.Errorf("the markup is not shown as text:\n%s\n%s", list, msg)
	}
}

// TestMailboxPageAnswersItsOwnAddressOnly: a request naming another host
// (a rebinding page's name for 127.0.0.1) is refused.
func TestMailboxPageAnswersItsOwnAddressOnly(t *testing.T) {
	box, page := startPage(t)
	sendMail(t, box, "ana@example.com", "secret link", "http://127.0.0.1:9/r/T")
	code, body := get(t, page.URL()+"m/1", "attacker.example:80")
	if code != http.StatusMisdirectedRequest || strings.Contains(body, "/r/T") {
		t.Fatalf("another host got %d:\n%s", code, body)
	}
}

// TestMailboxMessageByNumberSurvivesDroppedMessages: with Keep 2, the
// third message drops the first; numbers still find the kept ones.
func TestMailboxMessageByNumberSurvivesDroppedMessages(t *testing.T) {
	box, err := StartMailbox(MailboxOptions{Keep: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer box.Close()
	for _, s := range []string{"one", "two", "three"} {
		sendMail(t, box, "ana@example.com", s, s)
	}
	if !box.Wait(3, 10*time.Second) {
		t.Fatal("three messages did not arrive")
	}
	if _, ok := box.Message(1); ok {
		t.Error("the dropped first message is still found")
	}
	for seq, want := range map[int]string{2: "two", 3: "three"} {
		if m, ok := box.Message(seq); !ok || m.Subject != want || m.Seq != seq {
			t.Errorf("message %d: %+v %v", seq, m, ok)
		}
	}
}
