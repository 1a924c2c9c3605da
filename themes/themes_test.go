package themes

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/relink/relink/health"
)

func TestBuiltinsLoad(t *testing.T) {
	for _, name := range Builtins() {
		p, err := Load(name, "")
		if err != nil {
			t.Fatalf("Load(%q): %v", name, err)
		}
		for _, tk := range tokens {
			pr := *tk.get(&p)
			if pr.Light == "" || pr.Dark == "" {
				t.Errorf("theme %s: %s is not set for both backgrounds: %+v", name, tk.name, pr)
			}
		}
	}
}

func TestAutoFollowsBackground(t *testing.T) {
	auto, _ := Load("", "")
	dark, _ := Load("dark", "")
	light, _ := Load("light", "")
	if auto.Fg.Dark != dark.Fg.Dark || auto.Fg.Light != light.Fg.Light {
		t.Fatalf("auto = %+v, want dark side %q and light side %q", auto.Fg, dark.Fg.Dark, light.Fg.Light)
	}
	if dark.Fg.Light != dark.Fg.Dark {
		t.Fatalf("the dark theme should be dark on any background: %+v", dark.Fg)
	}
}

func writeTheme(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name+".toml"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestPartialUserThemeInherits(t *testing.T) {
	dir := t.TempDir()
	writeTheme(t, dir, "mine", "accent = \"#ff8800\"\n[light]\naccent = \"#aa5500\"\n")
	writeTheme(t, dir, "child", "base = \"mine\"\n[dark]\nerror = \"9\"\n")
	auto, _ := Load(Auto, "")
	p, err := Load("child", dir)
	if err != nil {
		t.Fatal(err)
	}
	if p.Accent != (Pair{Light: "#aa5500", Dark: "#ff8800"}) {
		t.Errorf("accent = %+v", p.Accent)
	}
	if p.Error != (Pair{Light: auto.Error.Light, Dark: "9"}) {
		t.Errorf("error = %+v", p.Error)
	}
	if p.Fg != auto.Fg || p.Name != "child" {
		t.Errorf("fg = %+v, name %q; want inherited from auto", p.Fg, p.Name)
	}
}

func TestThemeErrorsNameKeyAndFile(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]struct{ body, want string }{
		"top":    {"acent = \"#fff\"\n", `unknown key "acent"`},
		"table":  {"[dark]\nfgg = \"#fff\"\n", `unknown key "dark.fgg"`},
		"colour": {"[light]\nerror = \"#ggg\"\n", `light.error: "#ggg" is not a colour`},
		"type":   {"fg = 3\n", "fg: want a colour string"},
		"syntax": {"fg = \n", "toml"},
		"base":   {"base = \"nope\"\n", `theme "nope" is not in`},
	}
	for name, c := range cases {
		writeTheme(t, dir, name, c.body)
		_, err := Load(name, dir)
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		file := filepath.Join(dir, name+".toml")
		if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), file) {
			t.Errorf("%s: error %q should contain %q and %q", name, err, c.want, file)
		}
	}
}

func TestThemeCycleAndUnknown(t *testing.T) {
	dir := t.TempDir()
	writeTheme(t, dir, "a", "base = \"b\"\n")
	writeTheme(t, dir, "b", "base = \"a\"\n")
	if _, err := Load("a", dir); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("cycle: %v", err)
	}
	_, err := Load("solarized", dir)
	if err == nil || !strings.Contains(err.Error(), "high-contrast") {
		t.Errorf("unknown theme: %v", err)
	}
}

func TestThemeByPath(t *testing.T) {
	dir := t.TempDir()
	writeTheme(t, dir, "x", "base = \"none\"\nfg = \"none\"\n")
	p, err := Load(filepath.Join(dir, "x.toml"), "")
	if err != nil {
		t.Fatal(err)
	}
	if p.Fg != (Pair{}) || p.Accent != (Pair{}) {
		t.Errorf("a root theme with fg=none: %+v %+v", p.Fg, p.Accent)
	}
}

func TestBuildPlainSelectionIsReverse(t *testing.T) {
	s := Build(Palette{}, true)
	out := s.RowSelected.Render("row")
	if !strings.Contains(out, "\x1b[1;7m") && !strings.Contains(out, "\x1b[7;1m") {
		t.Errorf("plain selection %q should be bold reverse video", out)
	}
	if strings.Contains(s.Error.Render("x"), "38;") {
		t.Errorf("plain theme draws colours")
	}
	p, _ := Load(Auto, "")
	dark, light := Build(p, true), Build(p, false)
	if dark.Text.Render("x") == light.Text.Render("x") {
		t.Error("dark and light text render the same")
	}
}

func TestCategorySeverity(t *testing.T) {
	p, _ := Load("dark", "")
	s := Build(p, true)
	r := func(c health.Category) string { return s.Category(c).Render("x") }
	if r(health.AccountLocked) == r(health.InstitutionDown) {
		t.Error("critical and transient look the same")
	}
	if r(health.LoginRequired) != r(health.PasswordExpired) {
		t.Error("two high categories look different")
	}
}
