package registry

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/relink/relink/store"
	"github.com/relink/relink/vault"
)

func openStore(t *testing.T) *store.Store {
	t.Helper()
	key, _, err := vault.Generate()
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "relink.db"), store.Options{Sealer: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

const header = "provider,provider_id,access_token,user_ref,name,email,phone,institution\n"

// Hostile rows are refused at import, each with its line and the field it
// is in, and nothing of the file is applied: a name with a line break would
// otherwise fail every reminder later, for good.
func TestImportRefusesWhatWouldBreakAScreenOrAMessage(t *testing.T) {
	good := "plaid,item-ok,access-sandbox-ok,u0,Ana Silva,ana@example.com,,Tartan Bank\n"
	for _, c := range []struct {
		name, row, want string
	}{
		{"a line break in a name", "plaid,item-1,tok,u1,\"Ana\nSilva\",a@example.com,,Bank\n", "line 3: name holds a line break"},
		{"a carriage return", "plaid,item-1,tok,u1,\"Ana\rSilva\",a@example.com,,Bank\n", "line 3: name holds a line break"},
		{"a NUL", "plaid,item-1,tok,u1,Ana\x00,a@example.com,,Bank\n", "line 3: name holds a control character (U+0000"},
		{"an escape sequence", "plaid,item-1,tok,u1,\x1b]52;c;aGk=\x07,a@example.com,,Bank\n", "line 3: name holds a control character (U+001B"},
		{"a bidi override", "plaid,item-1,tok,u1,Ana,a@example.com,,\u202eknaB\n", "line 3: institution holds a bidirectional override (U+202E)"},
		{"Latin-1", "plaid,item-1,tok,u1,Jos\xe9,a@example.com,,Bank\n", "line 3: name is not UTF-8 (it looks like ISO-8859-1 (Latin-1))"},
		{"Windows-1252", "plaid,item-1,tok,u1,\x93Ana\x94,a@example.com,,Bank\n", "line 3: name is not UTF-8 (it looks like Windows-1252)"},
		{"a 10 MB name", "plaid,item-1,tok,u1," + strings.Repeat("A", 10<<20) + ",a@example.com,,Bank\n", "line 3: name is 10485760 bytes long (at most 256)"},
		{"an escape in an id", "plaid,item\x1b[2J,tok,u1,Ana,a@example.com,,Bank\n", "line 3: provider_id has a control or invisible character"},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := openStore(t)
			_, err := Import(context.Background(), st, strings.NewReader(header+good+c.row), "reg.csv", "dana", Defaults{})
			var bad *Error
			if !errors.As(err, &bad) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("import = %v, want a bad-row error with %q", err, c.want)
			}
			if strings.ContainsAny(err.Error(), "\x00\x1b\u202e") || len(err.Error()) > 1000 {
				t.Errorf("the error echoes the value: %q", err.Error())
			}
			counts, err := st.Counts(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if counts.Total != 0 {
				t.Errorf("%d connections imported from a file with a bad row", counts.Total)
			}
		})
	}
}

func TestImportRefusesNonUTF8JSONLinesAndUTF16Files(t *testing.T) {
	st := openStore(t)
	jsonl := `{"provider":"belvo","provider_id":"link-1","name":"Jos` + "\xe9" + `"}` + "\n"
	if _, err := Import(context.Background(), st, strings.NewReader(jsonl), "reg.jsonl", "dana", Defaults{}); err == nil ||
		!strings.Contains(err.Error(), "line 1: is not UTF-8 (it looks like ISO-8859-1 (Latin-1))") {
		t.Errorf("JSON Lines with Latin-1: %v", err)
	}
	utf16 := "\xff\xfep\x00r\x00o\x00"
	if _, err := Import(context.Background(), st, strings.NewReader(utf16), "reg.csv", "dana", Defaults{}); err == nil ||
		!strings.Contains(err.Error(), "reg.csv: the file is UTF-16; save it as UTF-8") {
		t.Errorf("a UTF-16 file: %v", err)
	}
	ok := header + "belvo,link-1,,u1,José Ñúñez,jose@example.com,,Banco Azul – São Paulo\n"
	if _, err := Import(context.Background(), st, strings.NewReader(ok), "reg.csv", "dana", Defaults{}); err != nil {
		t.Errorf("good UTF-8 is refused: %v", err)
	}
}

// Issue 14, point 2: a Cobalt row names its organization (Cobalt's org_id,
// e.g. the clinic) in the optional org_id column, or takes cobalt.org_id;
// with neither it is a bad row, and nothing of the file is applied.
func TestImportCobaltOrgID(t *testing.T) {
	ctx := context.Background()
	withOrg := header[:len(header)-1] + ",org_id\n"
	rows := withOrg +
		"cobalt,clinic_1,tok-1,u1,Dr Chen,chen@example.com,,https://emr.example.com,org_east\n" +
		"cobalt,clinic_2,tok-2,u2,Dr Diaz,diaz@example.com,,https://emr.example.com,\n" +
		"plaid,item-1,tok-3,u3,Ana,ana@example.com,,Bank,\n"

	st := openStore(t)
	_, err := Import(ctx, st, strings.NewReader(rows), "reg.csv", "dana", Defaults{})
	if err == nil || !strings.Contains(err.Error(), "line 3: org_id is required for cobalt when cobalt.org_id is not set") ||
		strings.Contains(err.Error(), "line 2") {
		t.Fatalf("a cobalt row without org_id and no default: %v", err)
	}
	if c, _ := st.Counts(ctx); c.Total != 0 {
		t.Fatalf("%d rows applied from a bad file", c.Total)
	}

	res, err := Import(ctx, st, strings.NewReader(rows), "reg.csv", "dana", Defaults{CobaltOrgID: "org_main"})
	if err != nil || res.Rows != 3 {
		t.Fatalf("with cobalt.org_id: %v %+v", err, res)
	}
	for id, want := range map[string]string{"cobalt:clinic_1": "org_east", "cobalt:clinic_2": "org_main", "plaid:item-1": ""} {
		p, pid, _ := strings.Cut(id, ":")
		c, err := st.Connection(ctx, p, pid)
		if err != nil || c.OrgID != want {
			t.Errorf("%s: org_id %q, want %q (%v)", id, c.OrgID, want, err)
		}
	}

	// JSON Lines has the column too; a CSV without it takes the default.
	jl := `{"provider":"cobalt","provider_id":"clinic_3","access_token":"tok-4","org_id":"org_west"}` + "\n"
	if _, err := Import(ctx, st, strings.NewReader(jl), "reg.jsonl", "dana", Defaults{}); err != nil {
		t.Fatalf("jsonl: %v", err)
	}
	if _, err := Import(ctx, st, strings.NewReader(header+"cobalt,clinic_4,tok-5,u4,N,,,\n"), "old.csv", "dana", Defaults{CobaltOrgID: "org_main"}); err != nil {
		t.Fatalf("a CSV without the column: %v", err)
	}
	for id, want := range map[string]string{"clinic_3": "org_west", "clinic_4": "org_main"} {
		if c, _ := st.Connection(ctx, "cobalt", id); c.OrgID != want {
			t.Errorf("%s: org_id %q, want %q", id, c.OrgID, want)
		}
	}

	// An org_id is held to the same rules as every field, and only for Cobalt.
	for _, c := range []struct{ row, want string }{
		{"plaid,item-2,tok,u,N,,,Bank,org_east\n", "line 2: org_id is only for cobalt rows"},
		{"cobalt,clinic_5,tok,u,N,,,,org\x1b[2J\n", "line 2: org_id holds a control character"},
		{"cobalt,clinic_5,tok,u,N,,,," + strings.Repeat("o", 300) + "\n", "line 2: org_id is 300 bytes long"},
	} {
		_, err := Import(ctx, st, strings.NewReader(withOrg+c.row), "bad.csv", "dana", Defaults{CobaltOrgID: "org_main"})
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\x1b") {
			t.Errorf("%q: %v, want %q", c.row, err, c.want)
		}
	}
}
