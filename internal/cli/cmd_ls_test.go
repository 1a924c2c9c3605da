package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestLsNamesACobaltInstitutionByItsEHR: relink ls shows a Cobalt
// connection's EHR and organisation, and an EHR it does not know by its
// host, never a URL; json and csv keep the emr_instance_domain as stored.
func TestLsNamesACobaltInstitutionByItsEHR(t *testing.T) {
	c := newCLI(t)
	reg := `provider,provider_id,access_token,user_ref,name,email,phone,institution,org_id
cobalt,clinic_1,cobalt-TOKEN-ONE,u1,Dr Chen,chen@example.com,,https://ecw.northside-clinic.example,org_main
cobalt,clinic_2,cobalt-TOKEN-TWO,u2,Dr Roy,roy@example.com,,https://emr.example.com/login,org_main
plaid,item-3,access-sandbox-TOKEN-THREE,u3,Ana Silva,ana@example.com,,First Platypus Bank,
`
	if out, errs, code := c.run("", "import", c.file("reg.csv", reg)); code != 0 {
		t.Fatalf("import: %d %q %q", code, out, errs)
	}
	out, _, code := c.run("", "ls")
	if code != 0 {
		t.Fatalf("ls: exit %d", code)
	}
	for _, want := range []string{"eClinicalWorks · northside-clinic", "emr.example.com", "First Platypus Bank"} {
		if !strings.Contains(out, want) {
			t.Errorf("ls table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "https://") {
		t.Errorf("ls table shows a URL:\n%s", out)
	}

	out, _, _ = c.run("", "ls", "--format", "json", "--provider", "cobalt")
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0]["institution"] != "https://ecw.northside-clinic.example" {
		t.Errorf("ls json must keep the raw emr_instance_domain: %v", rows)
	}
	if out, _, _ = c.run("", "ls", "--format", "csv"); !strings.Contains(out, "https://ecw.northside-clinic.example") {
		t.Errorf("ls csv must keep the raw emr_instance_domain:\n%s", out)
	}
}
