package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/relink/relink/backend"
	"github.com/relink/relink/health"
	"github.com/relink/relink/store"
)

// reportRows: login_required reminded by email (1 click of 150, 149
// repaired), repaired after a link with no reminder (3 used, 2 repaired),
// and account_locked that no one was reminded about.
var reportRows = []store.FunnelRow{
	{Category: "login_required", Channel: "email", Failing: 160, Reminded: 150, Clicked: 1, Repaired: 149,
		RepairTimes: []time.Duration{2 * time.Hour}},
	{Category: "login_required", LinkOnly: true, Failing: 160, Clicked: 3, Repaired: 2, RepairTimes: []time.Duration{time.Hour, 3 * time.Hour}},
	{Category: "account_locked", Failing: 4},
}

func TestReportTableShowsRepairsAfterALinkAndSharesAtTheEnds(t *testing.T) {
	var b bytes.Buffer
	if err := writeFunnelTable(&b, time.Date(2026, 11, 1, 0, 0, 0, 0, time.Local), reportRows); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	for _, row := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^login_required\s+160\s+email\s+150\s+1 \(<1%\)\s+149 \(>99%\)\s+2h$`),
		regexp.MustCompile(`(?m)^\s+link, no reminder\s+-\s+3\s+2 \(67%\)\s+2h$`),
		regexp.MustCompile(`(?m)^account_locked\s+4\s+-\s+0\s+-\s+-\s+-$`),
	} {
		if !row.MatchString(s) {
			t.Errorf("no line like %s in:\n%s", row, s)
		}
	}
	if !strings.Contains(s, "link, no reminder: no reminder was sent; a reconnect link was clicked, or copied or opened by an agent.") {
		t.Errorf("the link row is not explained:\n%s", s)
	}
	if strings.Contains(s, "(0%)") || strings.Contains(s, "(100%)") {
		t.Errorf("a share rounded to nothing or everything:\n%s", s)
	}
}

func TestReportJSONKeepsExactCountsAndMarksTheLinkRow(t *testing.T) {
	var b bytes.Buffer
	if err := writeFunnelJSON(&b, reportRows); err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("%v:\n%s", err, b.String())
	}
	if len(got) != 3 {
		t.Fatalf("%d rows:\n%s", len(got), b.String())
	}
	email, link := got[0], got[1]
	if email["clicked"] != 1.0 || email["reminded"] != 150.0 || email["repaired"] != 149.0 || email["link_only"] != false {
		t.Errorf("email row %v", email)
	}
	if link["channel"] != nil || link["link_only"] != true || link["reminded"] != 0.0 || link["clicked"] != 3.0 ||
		link["repaired"] != 2.0 || link["median_repair_seconds"] != 7200.0 {
		t.Errorf("link row %v", link)
	}
}

// TestReportCountsALinkAnAgentCopied: the funnel recognises the history
// line the dashboard's copy writes (backend.NoteLinkUse): a connection
// whose link an agent copied, repaired after, with no reminder, is a repair
// after a link in relink report.
func TestReportCountsALinkAnAgentCopied(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "r.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	signal := func(cat health.Category, at time.Time) store.Observation {
		return store.Observation{Provider: "belvo", ProviderID: "link-1", Kind: "poll", Register: true, ReceivedAt: at,
			Signal: health.Signal{Effect: health.SetPrimary, Category: cat, Source: health.SourcePoll, ObservedAt: at}}
	}
	if _, err := st.Apply(ctx, []store.Observation{signal(health.LoginRequired, now.Add(-time.Hour))}); err != nil {
		t.Fatal(err)
	}
	b := &backend.Backend{Store: st, Operator: "dana"}
	if err := b.NoteLinkUse(ctx, "belvo:link-1", store.LinkDirect, backend.LinkCopied); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Apply(ctx, []store.Observation{signal(health.Healthy, now.Add(time.Minute))}); err != nil {
		t.Fatal(err)
	}
	rows, err := st.Funnel(ctx, now.Add(-24*time.Hour), health.Topics())
	if err != nil {
		t.Fatal(err)
	}
	var b2 bytes.Buffer
	if err := writeFunnelTable(&b2, now.Add(-24*time.Hour), rows); err != nil {
		t.Fatal(err)
	}
	if row := regexp.MustCompile(`(?m)^login_required\s+1\s+link, no reminder\s+-\s+1\s+1 \(100%\)`); !row.MatchString(b2.String()) {
		t.Fatalf("no line like %s in:\n%s", row, b2.String())
	}
}
