package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

type cli struct {
	t   *testing.T
	env map[string]string
	dir string
}

func newCLI(t *testing.T) *cli {
	dir := t.TempDir()
	return &cli{t: t, dir: dir, env: map[string]string{
		"RELINK_DB": filepath.Join(dir, "relink.db"), "RELINK_SECRET_KEY": testKey,
		"RELINK_CONFIG": "", "XDG_CONFIG_HOME": filepath.Join(dir, "xdg"), "USER": "dana",
	}}
}

func (c *cli) run(stdin string, args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, strings.NewReader(stdin), &out, &errb, func(k string) string { return c.env[k] })
	return out.String(), errb.String(), code
}

func (c *cli) file(name, body string) string {
	p := filepath.Join(c.dir, name)
	os.WriteFile(p, []byte(body), 0o600)
	return p
}

const goodCSV = `provider,provider_id,access_token,user_ref,name,email,phone,institution,org_id
plaid,item-1,access-sandbox-TOKEN-ONE,u1,Ana Silva,ana@example.com,+15551234567,First Platypus Bank,
belvo,link-2,,u2,Bruno Costa,bruno@example.com,,Banco Azul,
cobalt,clinic_3,cobalt-TOKEN-THREE,u3,Dr Chen,chen@example.com,,https://emr.example.com,org_main
`

func TestImportCSVThenLsInEveryFormat(t *testing.T) {
	c := newCLI(t)
	out, errs, code := c.run("", "import", c.file("reg.csv", goodCSV))
	if code != 0 || !strings.Contains(out, "imported 3 connections") {
		t.Fatalf("import: %d %q %q", code, out, errs)
	}

	out, _, code = c.run("", "ls", "--format", "json")
	if code != 0 {
		t.Fatalf("ls json exit %d", code)
	}
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("ls json is not a JSON array: %v\n%s", err, out)
	}
	if len(rows) != 3 {
		t.Fatalf("%d rows", len(rows))
	}
	keys := []string{"provider", "provider_id", "user_ref", "name", "email", "phone", "institution", "category", "warning",
		"deadline", "provider_code", "provider_reason", "user_message", "first_failed_at", "updated_at"}
	for _, k := range keys {
		if _, ok := rows[0][k]; !ok {
			t.Errorf("ls json lacks %q", k)
		}
	}
	if rows[1]["phone"] != nil || rows[0]["deadline"] != nil {
		t.Errorf("absent values must be null: %v %v", rows[1]["phone"], rows[0]["deadline"])
	}
	if rows[0]["provider"] != "plaid" || rows[0]["category"] != "unknown" || rows[0]["email"] != "ana@example.com" {
		t.Errorf("row 0: %v", rows[0])
	}
	if _, ok := rows[0]["access_token"]; ok {
		t.Error("ls json exposes access_token")
	}

	out, _, _ = c.run("", "ls", "--format", "csv")
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(recs) != 4 || strings.Join(recs[0], ",") != strings.Join(keys, ",") {
		t.Fatalf("ls csv: %v %q", err, out)
	}
	if recs[2][1] != "link-2" || recs[2][6] != "Banco Azul" {
		t.Errorf("csv row: %v", recs[2])
	}

	out, _, _ = c.run("", "ls")
	if !strings.Contains(out, "CONNECTION") || !strings.Contains(out, "belvo:link-2") || !strings.Contains(out, "Banco Azul") {
		t.Fatalf("ls table:\n%s", out)
	}
	out, _, _ = c.run("", "ls", "--provider", "cobalt", "--format", "json")
	if strings.Count(out, `"provider":"cobalt"`) != 1 || strings.Contains(out, "plaid") {
		t.Fatalf("--provider filter: %s", out)
	}
	out, _, _ = c.run("", "ls", "--failing", "--format", "json")
	if strings.TrimSpace(out) != "[]" {
		t.Fatalf("--failing on unchecked connections: %s", out)
	}
}

func TestImportJSONLinesUpserts(t *testing.T) {
	c := newCLI(t)
	c.run("", "import", c.file("reg.csv", goodCSV))
	jl := `{"provider":"belvo","provider_id":"link-2","name":"Bruno C.","email":"b@example.com","institution":"Banco Azul"}
{"provider":"belvo","provider_id":"link-9","name":"New"}
`
	out, errs, code := c.run(jl, "import", "-")
	if code != 0 || !strings.Contains(out, "imported 2") {
		t.Fatalf("jsonl import: %d %s %s", code, out, errs)
	}
	out, _, _ = c.run("", "ls", "--format", "json", "--provider", "belvo")
	if !strings.Contains(out, `"name":"Bruno C."`) || !strings.Contains(out, "link-9") || strings.Count(out, "link-2") != 1 {
		t.Fatalf("upsert: %s", out)
	}
}

func TestBadImportAppliesNothingAndNamesLines(t *testing.T) {
	c := newCLI(t)
	bad := `provider,provider_id,access_token,user_ref,name,email,phone,institution
plaid,ok-1,tok-A,u1,A,a@example.com,,Bank
plaid,no-token,,u2,B,b@example.com,,Bank
venmo,x,tok,u3,C,c@example.com,,Bank
belvo,ok-2,,u4,D,not-an-email,,Bank
belvo,ok-3,,u5,E,e@example.com,555-1234,Bank
plaid,ok-1,tok-B,u1,A,a@example.com,,Bank
`
	_, errs, code := c.run("", "import", c.file("bad.csv", bad))
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"line 3: access_token is required", "line 4: provider", "line 5: email", "line 6: phone", "line 7: plaid:ok-1 appears again (first on line 2)", "nothing was imported"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	out, _, _ := c.run("", "ls", "--format", "json")
	if strings.TrimSpace(out) != "[]" {
		t.Fatalf("a bad file applied rows: %s", out)
	}
	_, errs, code = c.run("{\"provider\":\"plaid\",\"provider_id\":\"x\",\"access_token\":\"t\",\"colour\":\"red\"}\n{broken\n", "import", "-")
	if code != 1 || !strings.Contains(errs, "line 1: not a JSON object of registry columns: unknown field") || !strings.Contains(errs, "line 2:") {
		t.Fatalf("jsonl errors: %d %s", code, errs)
	}
	_, errs, code = c.run("", "import", c.file("cols.csv", "provider,provider_id,token\n"))
	if code != 1 || !strings.Contains(errs, `unknown column "token"`) {
		t.Fatalf("bad header: %s", errs)
	}
}

func TestNoCommandPrintsAnAccessToken(t *testing.T) {
	c := newCLI(t)
	secrets := []string{"access-sandbox-TOKEN-ONE", "cobalt-TOKEN-THREE"}
	var all strings.Builder
	record := func(out, errs string, _ int) { all.WriteString(out); all.WriteString(errs) }
	record(c.run("", "import", c.file("reg.csv", goodCSV)))
	// A token pasted into the wrong column of a bad file is not echoed.
	record(c.run("", "import", c.file("shifted.csv", "provider,provider_id,access_token,user_ref,name,email,phone\nplaid,i9,,u,N,access-sandbox-TOKEN-ONE,access-sandbox-TOKEN-ONE\n")))
	for _, f := range []string{"table", "json", "csv"} {
		record(c.run("", "ls", "--format", f))
	}
	record(c.run("", "audit"))
	record(c.run("", "audit", "--format", "json"))
	record(c.run("", "link", "plaid:item-1"))
	record(c.run("", "sync"))
	record(c.run("", "--help"))
	for _, s := range secrets {
		if strings.Contains(all.String(), s) {
			t.Fatalf("output contains the access token %q:\n%s", s, all.String())
		}
	}
	// The database file holds them sealed, never in the clear.
	db, _ := os.ReadFile(c.env["RELINK_DB"])
	wal, _ := os.ReadFile(c.env["RELINK_DB"] + "-wal")
	for _, s := range secrets {
		if bytes.Contains(db, []byte(s)) || bytes.Contains(wal, []byte(s)) {
			t.Fatalf("%s is stored in the clear", s)
		}
	}
}

func TestMissingKeyIsAClearError(t *testing.T) {
	c := newCLI(t)
	delete(c.env, "RELINK_SECRET_KEY")
	_, errs, code := c.run("", "import", c.file("reg.csv", goodCSV))
	if code != 1 || !strings.Contains(errs, "RELINK_SECRET_KEY") || !strings.Contains(errs, "secret_key_file") {
		t.Fatalf("%d %s", code, errs)
	}
}

func TestExitCodes(t *testing.T) {
	c := newCLI(t)
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"ls", "--format", "xml"}, 2, "want table, json or csv"},
		{[]string{"ls", "--category", "broken"}, 2, "not a category"},
		{[]string{"ls", "--nope"}, 2, "unknown flag"},
		{[]string{"import"}, 2, "takes one FILE"},
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"link", "nocolon"}, 2, "provider:provider_id"},
		{[]string{"import", "/nonexistent.csv"}, 1, "no such file"},
		{[]string{"link", "plaid:unknown-item"}, 1, "plaid is not configured"},
		{[]string{"sync"}, 1, "no provider is configured"},
		{[]string{"audit", "--format", "json"}, 0, ""},
	}
	for _, tc := range cases {
		_, errs, code := c.run("", tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.msg) {
			t.Errorf("%v: exit %d (want %d), stderr %q (want %q)", tc.args, code, tc.code, errs, tc.msg)
		}
	}
	c.env["RELINK_CONFIG"] = c.file("bad.toml", "[plaid]\nclientid = 1\n")
	_, errs, code := c.run("", "ls")
	if code != 1 || !strings.Contains(errs, "plaid.clientid") || !strings.Contains(errs, "bad.toml") {
		t.Fatalf("bad config: %d %s", code, errs)
	}
}

func TestAuditRecordsImports(t *testing.T) {
	c := newCLI(t)
	c.run("", "import", c.file("reg.csv", goodCSV))
	out, _, code := c.run("", "audit", "--format", "json", "--since", "1h")
	var entries []map[string]string
	if code != 0 || json.Unmarshal([]byte(out), &entries) != nil || len(entries) != 1 {
		t.Fatalf("audit: %d %s", code, out)
	}
	if entries[0]["action"] != "import" || entries[0]["operator"] != "dana" || !strings.Contains(entries[0]["detail"], "3 rows") {
		t.Fatalf("audit entry %v", entries[0])
	}
}

func TestAMistypedCommandSuggestsTheRightOne(t *testing.T) {
	c := newCLI(t)
	for _, args := range [][]string{{"lss"}, {"remnd", "--dry-run"}, {"--db", "x.db", "lss", "--failing"}} {
		_, errs, code := c.run("", args...)
		if code != 2 || !strings.Contains(errs, "unknown command") || !strings.Contains(errs, "did you mean") {
			t.Errorf("relink %v: exit %d, %q", args, code, errs)
		}
	}
	if _, errs, code := c.run("", "remind", "--dryrun"); code != 2 || !strings.Contains(errs, "unknown flag: --dryrun") {
		t.Errorf("a bad flag of a real command blames the flag: exit %d, %q", code, errs)
	}
}

func TestSinceTakesDaysAndWeeks(t *testing.T) {
	c := newCLI(t)
	for _, since := range []string{"7d", "2w", "36h"} {
		if out, errs, code := c.run("", "report", "--since", since); code != 0 || !strings.Contains(out, "Reconnect funnel since") {
			t.Errorf("report --since %s: exit %d, %q %q", since, code, out, errs)
		}
		if _, errs, code := c.run("", "audit", "--since", since); code != 0 {
			t.Errorf("audit --since %s: exit %d, %q", since, code, errs)
		}
	}
	if _, errs, code := c.run("", "report", "--since", "7x"); code != 2 || !strings.Contains(errs, "--since") {
		t.Errorf("a bad --since: exit %d, %q", code, errs)
	}
}
