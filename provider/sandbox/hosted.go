package sandbox

import (
	"bytes"
	"cmp"
	"html/template"
	"net/http"
	"net/url"
)

// The emulators' hosted update pages (Plaid's Hosted Link, Belvo's widget,
// Cobalt Link) are one handler: a page addressed by a token, whose GET shows
// what the connection needs and whose button POSTs back and completes the
// update. Each emulator says where the token travels, what the page shows
// for a token, and what completing the update does.

// hostedPage is one emulator's hosted update page.
type hostedPage struct {
	title, heading string // the page's <title> and <h1>, unless a view sets its own

	// token reads the page's token from a request. An error is a form that
	// cannot be read (400).
	token func(http.ResponseWriter, *http.Request) (string, error)
	// open is what a GET shows for a token: the form, or why not. q is
	// the page address's query.
	open func(token string, q url.Values) hostedView
	// submit completes the update for a token (the button's POST) and
	// is what the page shows then (or where it sends the browser). q is
	// the query of the address the form posted to.
	submit func(token string, q url.Values) hostedView
}

// hostedView is one rendering of a hosted page: an alert (a refusal or a
// failure), the update done, or what the connection needs with the form
// whose button makes the update.
type hostedView struct {
	status         int    // 0 is 200
	Title, Heading string // empty: the page's own

	Alert string // shown alone
	Done  string // shown alone
	// Redirect, when set, sends the browser there (303) instead of a page:
	// the provider's redirect to the caller's return URL.
	Redirect string

	Label, Subject string // "Institution", "banorte_mx_retail": what is updated; no Label, no line
	Need           string // what the connection needs
	Form           *hostedForm
	Exit           string // an "Exit" link beside the form: where leaving goes

	Note string // small print
}

// hostedForm is the form whose button completes the update.
type hostedForm struct {
	Action           string // "" posts back to the page's own address
	TokenName, Token string // the hidden field that carries the token; no TokenName, no field
	Fields           []hostedField
	Button           string
}

// hostedField is an input of the form.
type hostedField struct {
	Label, Name, Type, Autocomplete string // Type "" is text
}

var hostedTemplate = template.Must(template.New("hosted").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}
button{font-size:1rem;padding:.6rem 1.2rem}</style></head><body>
<h1>{{.Heading}}</h1>
{{if .Alert}}<p role="alert">{{.Alert}}</p>{{else if .Done}}<p>{{.Done}}</p>
{{else}}{{if .Label}}<p>{{.Label}}: <strong>{{.Subject}}</strong></p>
{{end}}<p>{{.Need}}</p>
{{with .Form}}<form method="post" action="{{.Action}}">
{{if .TokenName}}<input type="hidden" name="{{.TokenName}}" value="{{.Token}}">
{{end}}{{range .Fields}}<label>{{.Label}} <input{{if .Type}} type="{{.Type}}"{{end}} name="{{.Name}}" autocomplete="{{.Autocomplete}}"></label>
{{end}}<p><button type="submit">{{.Button}}</button></p>
</form>
{{end}}{{with .Exit}}<p><a id="exit" href="{{.}}">Exit</a></p>
{{end}}{{end}}{{with .Note}}<p><small>{{.}}</small></p>{{end}}
</body></html>
`))

// mount serves the page at path (a ServeMux pattern without its method)
// for GET and POST.
func (h *hostedPage) mount(mux *http.ServeMux, path string) {
	mux.Handle("GET "+path, h)
	mux.Handle("POST "+path, h)
}

func (h *hostedPage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	token, err := h.token(w, r)
	var v hostedView
	switch {
	case err != nil:
		v = hostedView{status: http.StatusBadRequest, Alert: "The form could not be read."}
	case r.Method == http.MethodPost:
		v = h.submit(token, r.URL.Query())
	default:
		v = h.open(token, r.URL.Query())
	}
	if v.Redirect != "" {
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, v.Redirect, http.StatusSeeOther)
		return
	}
	h.render(w, v)
}

func (h *hostedPage) render(w http.ResponseWriter, v hostedView) {
	v.Title, v.Heading = cmp.Or(v.Title, h.title), cmp.Or(v.Heading, h.heading)
	var b bytes.Buffer
	if err := hostedTemplate.Execute(&b, v); err != nil {
		http.Error(w, "rendering the page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(cmp.Or(v.status, http.StatusOK))
	w.Write(b.Bytes()) // the browser went away; nothing to do
}

// formToken is a token that travels as the query parameter name of the
// page's address (GET) and as the form field name of the button's POST
// (its body only, at most 64 KiB).
func formToken(name string) func(http.ResponseWriter, *http.Request) (string, error) {
	return func(w http.ResponseWriter, r *http.Request) (string, error) {
		if r.Method != http.MethodPost {
			return r.URL.Query().Get(name), nil
		}
		r.Body = http.MaxBytesReader(w, r.Body, 1<<16)
		if err := r.ParseForm(); err != nil {
			return "", err
		}
		return r.PostForm.Get(name), nil
	}
}

// pathToken is a token that is the {name} segment of the page's address,
// for GET and POST alike; the POST's body is not read.
func pathToken(name string) func(http.ResponseWriter, *http.Request) (string, error) {
	return func(_ http.ResponseWriter, r *http.Request) (string, error) {
		return r.PathValue(name), nil
	}
}
