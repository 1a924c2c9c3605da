package remind

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htemplate "html/template"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	ttemplate "text/template"
	"time"

	"github.com/relink/relink/health"
)

//go:embed templates
var builtin embed.FS

// The layout files of a template set; steps/<topic>.txt hold each
// category's or warning's instructions, steps/default.txt the rest.
const (
	FileSubject   = "email_subject.txt"
	FileEmailText = "email.txt"
	FileEmailHTML = "email.html"
	FileSMS       = "sms.txt"
	stepDir       = "steps"
	stepDefault   = "default"
)

// maxSMS is the longest body a Twilio-style API accepts.
const maxSMS = 1600

// stepTopics are the categories and warnings with their own step text (a
// subset of health.Topics: the others share the default step).
func stepTopics() []string {
	return []string{
		string(health.LoginRequired), string(health.MFARequired), string(health.AccountLocked),
		string(health.PasswordExpired), string(health.ActionAtInstitution), string(health.ConsentExpired),
		string(health.Incomplete), string(health.ConsentExpiring), string(health.PasswordChangeWarning), stepDefault,
	}
}

// TemplateFiles lists every file of a template set, relative to its
// directory.
func TemplateFiles() []string {
	files := []string{FileSubject, FileEmailText, FileEmailHTML, FileSMS}
	for _, t := range stepTopics() {
		files = append(files, stepDir+"/"+t+".txt")
	}
	return files
}

// Templates is a checked set of message templates.
type Templates struct {
	subject, text, sms *ttemplate.Template
	html               *htemplate.Template
	steps              map[string]*ttemplate.Template
	source             map[string]string // file → where it was read from
}

// Data is what the layouts see.
type Data struct {
	Sender  string // who signs: the From name, e.g. "Acme Support"
	Subject string // the rendered subject (for the HTML <title>)
	User    User
	Items   []ItemData
}

// ItemData is one connection as the layouts see it.
type ItemData struct {
	Item
	Steps string // the topic's instructions, rendered
}

func funcs() map[string]any {
	return map[string]any{
		"date": func(v any) string {
			switch t := v.(type) {
			case time.Time:
				if !t.IsZero() {
					return t.Format("Monday 2 January 2006")
				}
			case *time.Time:
				if t != nil && !t.IsZero() {
					return t.Format("Monday 2 January 2006")
				}
			}
			return "soon"
		},
		"plural": func(n int, one, many string) string {
			if n == 1 {
				return one
			}
			return many
		},
	}
}

// LoadTemplates reads the embedded defaults, overridden by any file of the
// same name in dir (dir may be "" or missing), and checks every template by
// rendering it with sample data. An error names the file.
func LoadTemplates(dir string) (*Templates, error) {
	texts := map[string]string{}
	t := &Templates{steps: map[string]*ttemplate.Template{}, source: map[string]string{}}
	for _, f := range TemplateFiles() {
		b, err := builtin.ReadFile("templates/" + f)
		if err != nil {
			return nil, fmt.Errorf("built-in template %s: %w", f, err)
		}
		texts[f], t.source[f] = string(b), "built-in "+f
	}
	if dir != "" {
		if err := readOverrides(dir, texts, t.source); err != nil {
			return nil, err
		}
	}
	parse := func(f string) (*ttemplate.Template, error) {
		tp, err := ttemplate.New(t.source[f]).Funcs(funcs()).Option("missingkey=error").Parse(texts[f])
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", t.source[f], err)
		}
		return tp, nil
	}
	var err error
	if t.subject, err = parse(FileSubject); err != nil {
		return nil, err
	}
	if t.text, err = parse(FileEmailText); err != nil {
		return nil, err
	}
	if t.sms, err = parse(FileSMS); err != nil {
		return nil, err
	}
	if t.html, err = htemplate.New(t.source[FileEmailHTML]).Funcs(funcs()).Option("missingkey=error").Parse(texts[FileEmailHTML]); err != nil {
		return nil, fmt.Errorf("template %s: %w", t.source[FileEmailHTML], err)
	}
	for _, topic := range stepTopics() {
		if t.steps[topic], err = parse(stepDir + "/" + topic + ".txt"); err != nil {
			return nil, err
		}
	}
	if err := t.check(); err != nil {
		return nil, err
	}
	return t, nil
}

func readOverrides(dir string, texts, source map[string]string) error {
	known := TemplateFiles()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && path != dir {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if !slices.Contains(known, rel) {
			return fmt.Errorf("template %s: not a template relink knows; the files are %s", path, strings.Join(known, ", "))
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("template %s: %w", path, err)
		}
		texts[rel], source[rel] = string(b), path
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// sampleItems are one item per step topic, for the start-up check.
func sampleItems(now time.Time) []Item {
	deadline := now.AddDate(0, 0, 10)
	var items []Item
	for i, topic := range stepTopics() {
		it := Item{Connection: fmt.Sprintf("plaid:sample-%d", i), Provider: "plaid", Institution: "First Platypus Bank",
			Category: health.Category(topic), UserMessage: "the institution's own words <b>&</b>",
			Link: fmt.Sprintf("https://relink.example.com/r/sample-%d", i), LinkExpires: now.Add(168 * time.Hour)}
		if health.Warning(topic).Remindable() {
			it.Category, it.Warning, it.Deadline = health.Healthy, health.Warning(topic), &deadline
		}
		if topic == stepDefault {
			it.Category = health.ConsentInsufficient
		}
		it.Title = TitleOf(it.Category, it.Warning)
		items = append(items, it)
	}
	return items
}

// check renders every template with sample data, alone and together, and
// makes sure every body carries every item's link.
func (t *Templates) check() error {
	items := sampleItems(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC))
	user := User{Ref: "u-1", Name: "Ana Silva", Email: "ana@example.com", Phone: "+15551234567"}
	sets := [][]Item{items[:3]}
	for i := range items {
		sets = append(sets, items[i:i+1])
	}
	for _, set := range sets {
		for _, ch := range ChannelNames() {
			m, err := t.Render(ch, "Acme Support", user, set)
			if err != nil {
				return err
			}
			bodies := map[string]string{FileEmailText: m.Text}
			switch ch {
			case Email:
				bodies[FileEmailHTML] = m.HTML
				if m.Subject == "" {
					return fmt.Errorf("template %s: renders an empty subject", t.source[FileSubject])
				}
			case SMS:
				bodies = map[string]string{FileSMS: m.Text}
			}
			for f, body := range bodies {
				for _, it := range set {
					if !strings.Contains(body, it.Link) {
						return fmt.Errorf("template %s: the %s message leaves out an item's link ({{.Link}}); every reminder must carry its reconnect link", t.source[f], it.Topic())
					}
				}
			}
		}
	}
	return nil
}

// TitleOf names what is wrong, for the layouts.
func TitleOf(c health.Category, w health.Warning) string {
	if w != health.NoWarning && !c.Failing() {
		return w.Title()
	}
	return c.Info().Title
}

// Render fills the templates for channel: email gets a subject, a text and
// an HTML body; sms and webhook a text (the webhook also carries the email
// parts, for teams that send mail themselves). Key and To are left to the
// caller.
func (t *Templates) Render(channel, sender string, u User, items []Item) (Message, error) {
	m := Message{Channel: channel, User: u, Items: items}
	if len(items) == 0 {
		return m, errors.New("a reminder needs at least one connection")
	}
	d := Data{Sender: sender, User: u}
	for _, it := range items {
		if it.Institution == "" {
			it.Institution = "your provider"
		}
		step, ok := t.steps[it.Topic()]
		if !ok {
			step = t.steps[stepDefault]
		}
		s, err := execText(step, it)
		if err != nil {
			return m, err
		}
		d.Items = append(d.Items, ItemData{Item: it, Steps: oneLine(s)})
		if m.Expires.IsZero() || it.LinkExpires.Before(m.Expires) {
			m.Expires = it.LinkExpires
		}
	}
	if channel == SMS {
		s, err := execText(t.sms, d)
		if err != nil {
			return m, err
		}
		m.Text = strings.TrimSpace(s)
		if n := len([]rune(m.Text)); n > maxSMS {
			return m, Permanent(fmt.Errorf("the SMS would be %d characters, over the %d an SMS API accepts; remind this user by email", n, maxSMS))
		}
		return m, nil
	}
	s, err := execText(t.subject, d)
	if err != nil {
		return m, err
	}
	m.Subject, d.Subject = oneLine(s), oneLine(s)
	if s, err = execText(t.text, d); err != nil {
		return m, err
	}
	m.Text = strings.TrimSpace(s) + "\n"
	var b bytes.Buffer
	if err := t.html.Execute(&b, d); err != nil {
		return m, fmt.Errorf("template %s: %w", t.html.Name(), err)
	}
	m.HTML = b.String()
	return m, nil
}

func execText(tp *ttemplate.Template, data any) (string, error) {
	var b bytes.Buffer
	if err := tp.Execute(&b, data); err != nil {
		return "", fmt.Errorf("template %s: %w", tp.Name(), err)
	}
	return b.String(), nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
