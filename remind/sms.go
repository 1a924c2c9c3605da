package remind

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/relink/relink/config"
)

// SMSOptions configure the SMS channel: [reminders.sms] and an optional
// HTTP client.
type SMSOptions struct {
	config.SMS
	Client *http.Client
}

// SMSChannel sends reminders through a Twilio-style API:
// POST {base_url}/2010-04-01/Accounts/{sid}/Messages.json with Basic auth
// sid:token and the form fields To, From and Body.
type SMSChannel struct {
	endpoint   string
	sid, token string
	from       string
	hc         *http.Client
}

// NewSMS checks the settings and returns the channel.
func NewSMS(o SMSOptions) (*SMSChannel, error) {
	switch {
	case o.AccountSID == "" || o.AuthToken == "":
		return nil, errors.New("SMS reminders need reminders.sms.account_sid and auth_token (env RELINK_SMS_TOKEN)")
	case o.From == "":
		return nil, errors.New("SMS reminders need reminders.sms.from (the sending number, e.g. +15550000000)")
	case o.BaseURL == "":
		return nil, errors.New("SMS reminders need reminders.sms.base_url")
	}
	u, err := url.Parse(o.BaseURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("reminders.sms.base_url %q is not a URL", o.BaseURL)
	}
	hc := o.Client
	if hc == nil {
		hc = defaultHTTPClient()
	}
	endpoint := strings.TrimRight(o.BaseURL, "/") + "/2010-04-01/Accounts/" + url.PathEscape(o.AccountSID) + "/Messages.json"
	return &SMSChannel{endpoint: endpoint, sid: o.AccountSID, token: o.AuthToken, from: o.From, hc: hc}, nil
}

// Name is "sms".
func (s *SMSChannel) Name() string { return SMS }

// Send posts m.Text to m.To.
func (s *SMSChannel) Send(ctx context.Context, m Message) error {
	form := url.Values{"To": {m.To}, "From": {s.from}, "Body": {m.Text}}
	req, err := http.NewRequest(http.MethodPost, s.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return Unavailable(fmt.Errorf("SMS endpoint: %w", err))
	}
	req.SetBasicAuth(s.sid, s.token)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	return do(ctx, s.hc, req, "SMS API", jsonMessage)
}

// Close releases nothing: HTTP connections are the client's.
func (s *SMSChannel) Close() error { return nil }
