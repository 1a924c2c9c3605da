package cli

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/relink/relink/health"
	"github.com/relink/relink/internal/institution"
	"github.com/relink/relink/internal/textfmt"
	"github.com/relink/relink/provider"
	"github.com/relink/relink/store"
)

func (a *app) lsCommand() *cobra.Command {
	var q store.ListQuery
	var category, format string
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List cached connections (table, json or csv)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if category != "" {
				c := health.Category(category)
				if !c.Valid() {
					return usagef("--category %q is not a category; one of: %s", category, categoryList())
				}
				q.Category = c
			}
			if q.Provider != "" && !isProvider(q.Provider) {
				return usagef("--provider %q: want plaid, belvo or cobalt", q.Provider)
			}
			var w rowWriter
			switch format {
			case "table":
				w = newTableWriter(a.stdout)
			case "json":
				w = &jsonWriter{w: a.stdout}
			case "csv":
				w = &csvWriter{w: csv.NewWriter(a.stdout)}
			default:
				return usagef("--format %q: want table, json or csv", format)
			}
			ctx := cmd.Context()
			_, st, err := a.openCache(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := st.List(ctx, q, w.row); err != nil {
				return err
			}
			return w.close()
		},
	}
	cmd.Flags().BoolVar(&q.Failing, "failing", false, "only failing connections")
	cmd.Flags().StringVar(&category, "category", "", "only this category (e.g. login_required)")
	cmd.Flags().StringVar(&q.Provider, "provider", "", "only this provider: plaid, belvo or cobalt")
	cmd.Flags().StringVar(&format, "format", "table", "table, json or csv")
	cmd.RegisterFlagCompletionFunc("format", fixedCompletion("table", "json", "csv"))
	cmd.RegisterFlagCompletionFunc("provider", fixedCompletion(provider.Names()...))
	cmd.RegisterFlagCompletionFunc("category", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return strings.Split(categoryList(), ", "), cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

func fixedCompletion(values ...string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}

func isProvider(p string) bool {
	for _, n := range provider.Names() {
		if n == p {
			return true
		}
	}
	return false
}

func categoryList() string {
	var names []string
	for _, c := range health.Categories() {
		names = append(names, string(c))
	}
	return strings.Join(names, ", ")
}

type rowWriter interface {
	row(store.Connection) error
	close() error
}

// connJSON is the public `ls --format json` shape (DESIGN.md): times RFC
// 3339, absent values null. It has no field for the access token.
type connJSON struct {
	Provider       string  `json:"provider"`
	ProviderID     string  `json:"provider_id"`
	UserRef        *string `json:"user_ref"`
	Name           *string `json:"name"`
	Email          *string `json:"email"`
	Phone          *string `json:"phone"`
	Institution    *string `json:"institution"`
	Category       string  `json:"category"`
	Warning        *string `json:"warning"`
	Deadline       *string `json:"deadline"`
	ProviderCode   *string `json:"provider_code"`
	ProviderReason *string `json:"provider_reason"`
	UserMessage    *string `json:"user_message"`
	FirstFailedAt  *string `json:"first_failed_at"`
	UpdatedAt      *string `json:"updated_at"`
}

func strOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func timeOrNil(t *time.Time) *string {
	if t == nil || t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.RFC3339)
	return &s
}

func toJSON(c store.Connection) connJSON {
	h := c.Health
	updated := c.UpdatedAt
	return connJSON{Provider: c.Provider, ProviderID: c.ProviderID, UserRef: strOrNil(c.UserRef), Name: strOrNil(c.Name),
		Email: strOrNil(c.Email), Phone: strOrNil(c.Phone), Institution: strOrNil(c.Institution),
		Category: string(h.Category), Warning: strOrNil(string(h.Warning)), Deadline: timeOrNil(h.Deadline),
		ProviderCode: strOrNil(h.ProviderCode), ProviderReason: strOrNil(h.ProviderReason), UserMessage: strOrNil(h.UserMessage),
		FirstFailedAt: timeOrNil(h.FirstFailedAt), UpdatedAt: timeOrNil(&updated)}
}

// jsonWriter streams a JSON array, one object per line.
type jsonWriter struct {
	w io.Writer
	n int
}

func (j *jsonWriter) row(c store.Connection) error {
	b, err := json.Marshal(toJSON(c))
	if err != nil {
		return err
	}
	sep := ",\n"
	if j.n == 0 {
		sep = "[\n"
	}
	j.n++
	_, err = fmt.Fprintf(j.w, "%s%s", sep, b)
	return err
}

func (j *jsonWriter) close() error {
	if j.n == 0 {
		_, err := io.WriteString(j.w, "[]\n")
		return err
	}
	_, err := io.WriteString(j.w, "\n]\n")
	return err
}

var csvHeader = []string{"provider", "provider_id", "user_ref", "name", "email", "phone", "institution", "category", "warning",
	"deadline", "provider_code", "provider_reason", "user_message", "first_failed_at", "updated_at"}

type csvWriter struct {
	w      *csv.Writer
	header bool
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (c *csvWriter) row(conn store.Connection) error {
	if !c.header {
		c.header = true
		if err := c.w.Write(csvHeader); err != nil {
			return err
		}
	}
	j := toJSON(conn)
	return c.w.Write([]string{j.Provider, j.ProviderID, deref(j.UserRef), deref(j.Name), deref(j.Email), deref(j.Phone),
		deref(j.Institution), j.Category, deref(j.Warning), deref(j.Deadline), deref(j.ProviderCode), deref(j.ProviderReason),
		deref(j.UserMessage), deref(j.FirstFailedAt), deref(j.UpdatedAt)})
}

func (c *csvWriter) close() error {
	if !c.header {
		c.w.Write(csvHeader)
	}
	c.w.Flush()
	return c.w.Error()
}

type tableWriter struct {
	tw  *tabwriter.Writer
	n   int
	now time.Time
}

func newTableWriter(w io.Writer) *tableWriter {
	t := &tableWriter{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0), now: time.Now()}
	fmt.Fprintln(t.tw, "CONNECTION\tUSER\tEMAIL\tINSTITUTION\tCATEGORY\tCODE\tFAILING FOR")
	return t
}

func (t *tableWriter) row(c store.Connection) error {
	t.n++
	code := c.Health.ProviderCode
	if c.Health.ProviderReason != "" {
		code += "/" + c.Health.ProviderReason
	}
	cat := string(c.Health.Category)
	if c.Health.Warning != "" {
		cat += " +" + string(c.Health.Warning)
	}
	since := "-"
	if f := c.Health.FirstFailedAt; f != nil {
		since = humanAge(t.now.Sub(*f))
	}
	_, err := fmt.Fprintf(t.tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", textfmt.Safe(c.Ref()), safe(c.Name), safe(c.Email), safe(institution.Name(c.Provider, c.Institution)), cat, safe(code), since)
	if t.n%500 == 0 {
		t.tw.Flush()
	}
	return err
}

func (t *tableWriter) close() error {
	if err := t.tw.Flush(); err != nil {
		return err
	}
	if t.n == 0 {
		_, err := fmt.Fprintln(t.tw, "(no connections match)")
		t.tw.Flush()
		return err
	}
	return nil
}

// humanAge is textfmt.Age, with "just now" for anything under a minute.
func humanAge(d time.Duration) string {
	if d < time.Minute {
		return "just now"
	}
	return textfmt.Age(d)
}

// safe is a field from outside for a table: escapes shown (textfmt.Safe),
// "-" for nothing.
func safe(s string) string { return textfmt.Dash(textfmt.Safe(s)) }
